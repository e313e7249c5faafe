"""The benchmark: every mode over the same workload on the workbench, measured side by side."""
