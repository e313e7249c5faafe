/*
 * Start Amazon's DynamoDB Local listening on 127.0.0.1 ONLY.
 *
 * DynamoDB Local has no bind-address option: its ServerRunner builds a DynamoDBProxyServer,
 * whose constructor does `new org.eclipse.jetty.server.Server(port)`, i.e. one ServerConnector
 * with no host, which Jetty binds to the wildcard address (all interfaces, IPv4 and IPv6).
 *
 * This launcher takes exactly DynamoDB Local's command-line arguments and does what its
 * main (software.amazon.dynamodb.services.local.main.ServerRunner) does, except that before
 * starting the server it reaches the Jetty Server (private field `server` of
 * DynamoDBProxyServer) and calls setHost("127.0.0.1") on its connector(s). It fails closed:
 * any surprise (field missing, no connector, a connector whose host cannot be set,
 * a socket bound elsewhere after start) stops the process with exit code 2 before or right
 * after the port opens, never leaving a wildcard listener running.
 *
 * Telemetry: ServerRunner.createServer configures it from -disableTelemetry, as with the jar's
 * main (main's second, setup-type-only configureTelemetry call is skipped here). Pass
 * -disableTelemetry (s3ledger always does) or DynamoDB Local writes
 * dynamodb-local-metadata.json in its working directory and may send telemetry.
 *
 * Usage (classpath: DynamoDBLocal.jar, whose manifest pulls in DynamoDBLocal_lib/):
 *   java -Djava.net.preferIPv4Stack=true -Djava.library.path=DIR/DynamoDBLocal_lib \
 *        -cp DIR/DynamoDBLocal.jar:CLASSDIR LoopbackDynamoDBLocal -inMemory -sharedDb -port P
 * or as a Java 11+ single-file source program:
 *   java ... -cp DIR/DynamoDBLocal.jar LoopbackDynamoDBLocal.java -inMemory -port P
 */

import java.lang.reflect.Field;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ServerSocketChannel;

import org.eclipse.jetty.server.AbstractNetworkConnector;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.NetworkConnector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

import software.amazon.dynamodb.services.local.main.CommandLineInput;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackDynamoDBLocal {
    static final String HOST = "127.0.0.1";
    private static final int EXIT_REFUSED = 2;

    private LoopbackDynamoDBLocal() {}

    public static void main(String[] args) throws Exception {
        // Same as ServerRunner.main: -help / -version print and return false.
        if (!new CommandLineInput(args).init()) {
            return;
        }
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Server server = jettyServer(proxy);

        Connector[] connectors = server.getConnectors();
        if (connectors == null || connectors.length == 0) {
            refuse("the Jetty server has no connector");
        }
        for (Connector connector : connectors) {
            if (!(connector instanceof AbstractNetworkConnector network)) {
                refuse("unexpected connector " + connector.getClass().getName());
                return;
            }
            network.setHost(HOST);
        }

        // DynamoDBProxyServer.start() prints "Could not start server on port ..." and stops
        // the server on a SocketException (e.g. port in use) instead of throwing.
        proxy.start();
        if (!server.isStarted()) {
            System.err.println("LoopbackDynamoDBLocal: DynamoDB Local did not start");
            System.exit(1);
        }

        for (Connector connector : server.getConnectors()) {
            checkBound(server, (NetworkConnector) connector);
        }
        System.out.println("LoopbackDynamoDBLocal: listening on " + HOST + " only");
        // Jetty's non-daemon threads keep the JVM alive, as with ServerRunner.main.
    }

    private static Server jettyServer(DynamoDBProxyServer proxy) throws Exception {
        Field field;
        try {
            field = DynamoDBProxyServer.class.getDeclaredField("server");
        } catch (NoSuchFieldException e) {
            refuse("DynamoDBProxyServer has no field `server` (DynamoDB Local changed)");
            return null;
        }
        field.setAccessible(true);
        Object value = field.get(proxy);
        if (!(value instanceof Server server)) {
            refuse("DynamoDBProxyServer.server is not an org.eclipse.jetty.server.Server");
            return null;
        }
        return server;
    }

    /** After start: the socket really is bound to 127.0.0.1, or the process goes down. */
    private static void checkBound(Server server, NetworkConnector connector) throws Exception {
        SocketAddress bound = null;
        if (connector instanceof ServerConnector serverConnector
                && serverConnector.getTransport() instanceof ServerSocketChannel channel) {
            bound = channel.getLocalAddress();
        }
        boolean ok = HOST.equals(connector.getHost())
                && bound instanceof InetSocketAddress inet
                && isIpv4Loopback(inet.getAddress());
        if (!ok) {
            System.err.println("LoopbackDynamoDBLocal: refusing to run, connector bound to "
                    + bound + " (host " + connector.getHost() + ")");
            try {
                server.stop();
            } finally {
                System.exit(EXIT_REFUSED);
            }
        }
    }

    private static boolean isIpv4Loopback(InetAddress address) {
        byte[] raw = address.getAddress(); // IPv4-mapped IPv6 addresses come back as 4 bytes
        return raw.length == 4 && raw[0] == 127 && raw[1] == 0 && raw[2] == 0 && raw[3] == 1;
    }

    private static void refuse(String why) {
        System.err.println("LoopbackDynamoDBLocal: refusing to start, " + why);
        System.exit(EXIT_REFUSED);
    }
}
