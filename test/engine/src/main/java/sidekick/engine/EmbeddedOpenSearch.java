package sidekick.engine;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.cluster.service.ClusterService;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.core.common.transport.TransportAddress;
import org.opensearch.env.Environment;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.ingest.common.IngestCommonPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * An OpenSearch 2.19 node for sidekick's tests: REST on 127.0.0.1:PORT (or on the address in the system property
 * sidekick.engine.http.host), clean stop on SIGTERM/SIGINT.
 * Alone (the default) it is a single-node cluster whose data lives in a temp directory deleted on exit.
 * With {@code --seed-hosts} it is one node of a multi-node cluster on loopback: its own data path
 * ({@code --data}, kept on exit so a killed node can be restarted on it), its own transport port, and
 * discovery through the other nodes' transport addresses.
 *
 * <p>Arguments: {@code --port N} (default: system property {@code sidekick.engine.port}, else 9200;
 * 0 picks a free port), {@code --exit-on-stdin-eof} (stop when the parent process goes away);
 * cluster mode: {@code --node-name NAME}, {@code --cluster-name NAME}, {@code --data DIR},
 * {@code --transport-port N}, {@code --seed-hosts 127.0.0.1:P1,127.0.0.1:P2,...},
 * {@code --initial-cluster-managers NAME1,NAME2,...} (the nodes that vote in the first election).
 * Prints {@code OPENSEARCH_READY http://127.0.0.1:PORT} on stdout once HTTP is bound.
 */
public final class EmbeddedOpenSearch {

    /** A plain Node with the classpath plugins; not MockNode (that needs the randomized test runner). */
    static final class EngineNode extends Node {
        EngineNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }

        @Override
        protected void configureNodeAndClusterIdStateListener(ClusterService clusterService) {
            // The default one only feeds log4j's node-id converter; not needed here.
        }
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.getInteger("sidekick.engine.port", 9200);
        boolean exitOnStdinEof = false;
        String nodeName = "sidekick-test-1";
        String clusterName = "sidekick-test";
        String dataDir = null;
        String transportPort = "0";
        String seedHosts = null;
        String initialManagers = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--port":
                    port = parsePort(value(args, i++));
                    break;
                case "--exit-on-stdin-eof":
                    exitOnStdinEof = true;
                    break;
                case "--node-name":
                    nodeName = value(args, i++);
                    break;
                case "--cluster-name":
                    clusterName = value(args, i++);
                    break;
                case "--data":
                    dataDir = value(args, i++);
                    break;
                case "--transport-port":
                    transportPort = Integer.toString(parsePort(value(args, i++)));
                    break;
                case "--seed-hosts":
                    seedHosts = value(args, i++);
                    break;
                case "--initial-cluster-managers":
                    initialManagers = value(args, i++);
                    break;
                default:
                    if (args[i].startsWith("--port=")) {
                        port = parsePort(args[i].substring("--port=".length()));
                    } else {
                        usage("unknown argument " + args[i]);
                    }
            }
        }
        // Netty lets the processor count be set only once per JVM; OpenSearch must not try.
        System.setProperty("opensearch.set.netty.runtime.available.processors", "false");

        final boolean cluster = seedHosts != null;
        final Path home = Files.createTempDirectory("sidekick-opensearch-");
        for (String d : List.of("config", "modules", "plugins", "logs")) {
            Files.createDirectories(home.resolve(d));
        }
        final Path data = dataDir != null ? Path.of(dataDir) : home.resolve("data");
        final Settings.Builder builder = Settings.builder()
            .put("cluster.name", clusterName)
            .put("node.name", nodeName)
            .put("path.home", home.toString())
            .put("path.data", data.toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("network.host", "127.0.0.1")
            // In a container (images/stand-ins.Dockerfile) HTTP must answer on the container's address too.
            .put("http.host", System.getProperty("sidekick.engine.http.host", "127.0.0.1"))
            .put("http.port", Integer.toString(port))
            .put("transport.port", transportPort)
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", true)
            .put("search.max_buckets", 65535)
            .putList("node.roles", "cluster_manager", "data", "ingest");
        if (cluster) {
            builder.putList("discovery.seed_hosts", seedHosts.split(","));
            // Only read when the cluster forms for the first time; a restarted node rejoins from its data path.
            if (initialManagers != null) builder.putList("cluster.initial_cluster_manager_nodes", initialManagers.split(","));
        } else {
            builder.put("discovery.type", "single-node");
        }
        final Settings settings = builder.build();
        final String name = nodeName;
        final Environment env =
            InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), home.resolve("config"), () -> name);

        final Node node = new EngineNode(env, List.of(
            Netty4Plugin.class,          // HTTP + transport layer
            CommonAnalysisPlugin.class,  // analyzers/tokenizers beyond standard
            PainlessPlugin.class,        // scripts in pipelines, updates, runtime fields
            IngestCommonPlugin.class,    // ingest processors (set, rename, date, script, ...)
            MapperExtrasPlugin.class,    // scaled_float, token_count, rank_feature, ...
            ReindexPlugin.class));       // _reindex, _delete_by_query, _update_by_query
        final CountDownLatch stopped = new CountDownLatch(1);
        final Thread hook = new Thread(() -> {
            try {
                node.close();
                node.awaitClose(15, TimeUnit.SECONDS);
            } catch (Exception e) {
                System.err.println("sidekick engine: error while stopping: " + e);
            } finally {
                // A cluster node's data path belongs to the caller (it may start the node again on it).
                deleteQuietly(home);
                stopped.countDown();
            }
        }, "sidekick-engine-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);

        try {
            node.start();
        } catch (Exception e) {
            System.err.println("sidekick engine: failed to start: " + e);
            e.printStackTrace();
            System.exit(1);
        }
        if (!cluster) {
            // One node: replicas can never be assigned. New indices default to 0 replicas so health
            // turns green (the node-level setting is ignored by index creation; the persistent one is not).
            node.client().admin().cluster().prepareUpdateSettings()
                .setPersistentSettings(Settings.builder().put("cluster.default_number_of_replicas", 0))
                .get(TimeValue.timeValueSeconds(30));
        }
        final HttpServerTransport http = node.injector().getInstance(HttpServerTransport.class);
        final TransportAddress bound = http.boundAddress().publishAddress();
        final PrintStream out = System.out;
        out.println("OPENSEARCH_READY http://127.0.0.1:" + bound.getPort());
        out.flush();

        if (exitOnStdinEof) {
            Thread watchdog = new Thread(() -> {
                try (InputStream in = System.in) {
                    byte[] buf = new byte[256];
                    while (in.read(buf) >= 0) {
                        // discard
                    }
                } catch (IOException ignored) {
                    // parent is gone either way
                }
                System.exit(0);
            }, "sidekick-engine-stdin-watchdog");
            watchdog.setDaemon(true);
            watchdog.start();
        }
        stopped.await();
    }

    private static String value(String[] args, int i) {
        if (i + 1 >= args.length) usage(args[i] + " needs a value");
        return args[i + 1];
    }

    private static int parsePort(String s) {
        try {
            int p = Integer.parseInt(s);
            if (p < 0 || p > 65535) usage("port out of range: " + s);
            return p;
        } catch (NumberFormatException e) {
            usage("not a port: " + s);
            return -1;
        }
    }

    private static void usage(String msg) {
        System.err.println("sidekick engine: " + msg);
        System.err.println("usage: EmbeddedOpenSearch [--port N] [--exit-on-stdin-eof] [--node-name NAME --cluster-name NAME"
            + " --data DIR --transport-port N --seed-hosts HOST:PORT,... --initial-cluster-managers NAME,...]");
        System.exit(2);
    }

    private static void deleteQuietly(Path root) {
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                    Files.deleteIfExists(dir);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            System.err.println("sidekick engine: could not delete " + root + ": " + e);
        }
    }
}
