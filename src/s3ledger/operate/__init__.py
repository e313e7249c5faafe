"""Operator commands against a deployed pipeline: check, reconcile, backfill, attach, redrive.

They write through the pipeline's own writers; they never import the workbench or the proof.
"""
