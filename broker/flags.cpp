#include "flags.hpp"

#include <array>
#include <cstdlib>
#include <string_view>
#include <utility>

namespace forest::broker {
namespace {

enum class Kind { boolean, integer, string };

struct FlagSpec {
  std::string_view canonical;
  Kind kind;
  std::array<std::string_view, 4> names;
};

// Every flag nats-server 2.9 knows, plus our own --io_threads. Feature flags of later issues
// are parsed here and refused in apply_flags() with a clear message.
constexpr FlagSpec kFlags[] = {
    {"help", Kind::boolean, {"h", "help"}},
    {"version", Kind::boolean, {"v", "version"}},
    {"port", Kind::integer, {"p", "port"}},
    {"server_name", Kind::string, {"n", "name", "server_name"}},
    {"host", Kind::string, {"a", "addr", "net"}},
    {"client_advertise", Kind::string, {"client_advertise"}},
    {"debug", Kind::boolean, {"D", "debug"}},
    {"trace", Kind::boolean, {"V", "trace"}},
    {"trace_verbose", Kind::boolean, {"VV"}},
    {"debug_trace", Kind::boolean, {"DV"}},
    {"debug_trace_verbose", Kind::boolean, {"DVV"}},
    {"logtime", Kind::boolean, {"T", "logtime"}},
    {"user", Kind::string, {"user"}},
    {"pass", Kind::string, {"pass"}},
    {"auth", Kind::string, {"auth"}},
    {"http_port", Kind::integer, {"m", "http_port"}},
    {"https_port", Kind::integer, {"ms", "https_port"}},
    {"config", Kind::string, {"c", "config"}},
    {"check_config", Kind::boolean, {"t"}},
    {"signal", Kind::string, {"sl", "signal"}},
    {"pid", Kind::string, {"P", "pid"}},
    {"ports_file_dir", Kind::string, {"ports_file_dir"}},
    {"log", Kind::string, {"l", "log"}},
    {"log_size_limit", Kind::integer, {"log_size_limit"}},
    {"syslog", Kind::boolean, {"s", "syslog"}},
    {"remote_syslog", Kind::string, {"r", "remote_syslog"}},
    {"profile", Kind::integer, {"profile"}},
    {"routes", Kind::string, {"routes"}},
    {"cluster", Kind::string, {"cluster", "cluster_listen"}},
    {"cluster_advertise", Kind::string, {"cluster_advertise"}},
    {"no_advertise", Kind::boolean, {"no_advertise"}},
    {"connect_retries", Kind::integer, {"connect_retries"}},
    {"cluster_name", Kind::string, {"cluster_name"}},
    {"help_tls", Kind::boolean, {"help_tls"}},
    {"tls", Kind::boolean, {"tls"}},
    {"tlsverify", Kind::boolean, {"tlsverify"}},
    {"tlscert", Kind::string, {"tlscert"}},
    {"tlskey", Kind::string, {"tlskey"}},
    {"tlscacert", Kind::string, {"tlscacert"}},
    {"max_traced_msg_len", Kind::integer, {"max_traced_msg_len"}},
    {"jetstream", Kind::boolean, {"js", "jetstream"}},
    {"store_dir", Kind::string, {"sd", "store_dir"}},
    {"io_threads", Kind::integer, {"io_threads"}},
    {"node_info", Kind::string, {"node-info", "node_info"}},
    {"registry", Kind::string, {"registry"}},
    {"registry_interval", Kind::string, {"registry-interval", "registry_interval"}},
};

const FlagSpec* find_flag(std::string_view name) {
  for (const FlagSpec& f : kFlags) {
    for (std::string_view n : f.names) {
      if (!n.empty() && n == name) return &f;
    }
  }
  return nullptr;
}

std::expected<bool, std::string> parse_bool(std::string_view flag, const std::string& v) {
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False") return false;
  return std::unexpected("invalid boolean value \"" + v + "\" for -" + std::string(flag) + ": parse error");
}

std::expected<int64_t, std::string> parse_int(std::string_view flag, const std::string& v) {
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 0);
  if (v.empty() || *end != '\0') {
    return std::unexpected("invalid value \"" + v + "\" for flag -" + std::string(flag) + ": parse error");
  }
  return n;
}

std::string not_supported(std::string_view flag, std::string_view feature) {
  return "flag --" + std::string(flag) + ": " + std::string(feature) + " is not supported by forest-server yet";
}

}  // namespace

std::expected<CommandLine, std::string> parse_command_line(const std::vector<std::string>& args) {
  CommandLine cl;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size()) return std::unexpected("unexpected argument \"" + args[i + 1] + "\"");
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') return std::unexpected("unexpected argument \"" + arg + "\"");
    std::string_view body(arg);
    body.remove_prefix(arg[1] == '-' ? 2 : 1);
    if (body.empty() || body[0] == '-' || body[0] == '=') return std::unexpected("bad flag syntax: " + arg);
    std::string name, value;
    bool has_value = false;
    if (const auto eq = body.find('='); eq != std::string_view::npos) {
      name = std::string(body.substr(0, eq));
      value = std::string(body.substr(eq + 1));
      has_value = true;
    } else {
      name = std::string(body);
    }
    const FlagSpec* spec = find_flag(name);
    if (spec == nullptr) return std::unexpected("flag provided but not defined: -" + name);
    if (spec->kind == Kind::boolean) {
      if (!has_value) value = "true";
      auto b = parse_bool(name, value);
      if (!b) return std::unexpected(b.error());
      value = *b ? "true" : "false";
    } else if (!has_value) {
      if (i + 1 >= args.size()) return std::unexpected("flag needs an argument: -" + name);
      value = args[++i];
    }
    if (spec->kind == Kind::integer) {
      auto n = parse_int(name, value);
      if (!n) return std::unexpected(n.error());
    }
    const std::string_view canonical = spec->canonical;
    if (canonical == "help") {
      cl.show_help = value == "true";
    } else if (canonical == "version") {
      cl.show_version = value == "true";
    } else if (canonical == "config") {
      cl.config_file = value;
    } else if (canonical == "check_config") {
      cl.check_config = value == "true";
    } else if (canonical == "signal") {
      cl.signal = value;
    } else {
      cl.flag_values.emplace_back(std::string(canonical), value);
    }
  }
  return cl;
}

// "nats://host:port", "host:port" or ":port" for -cluster (the host may be empty: all addresses).
std::expected<std::pair<std::string, int>, std::string> parse_listen_url(const std::string& text) {
  std::string rest = text;
  if (const auto sep = rest.find("://"); sep != std::string::npos) rest = rest.substr(sep + 3);
  if (const auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) return std::unexpected("expected nats://host:port, got \"" + text + "\"");
  std::string host = rest.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  char* end = nullptr;
  const std::string port_text = rest.substr(colon + 1);
  const long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || port < -1 || port > 65535) {
    return std::unexpected("invalid port in \"" + text + "\"");
  }
  return std::pair<std::string, int>{host.empty() ? std::string("0.0.0.0") : host, static_cast<int>(port)};
}

// nats-server's TLS flags: any of them replaces the config file's tls block with one built from
// the flags alone (cert and key required), keeping its timeout; --tls=false turns TLS off.
std::expected<void, std::string> apply_tls_flags(Options& o, const CommandLine& cl) {
  bool any = false, disabled = false;
  std::string cert, key, ca;
  bool verify = false;
  for (const auto& [name, value] : cl.flag_values) {
    if (name == "tls") {
      if (value != "true") disabled = true;
      any = true;
    } else if (name == "tlsverify") {
      verify = value == "true";
      any = true;
    } else if (name == "tlscert") {
      cert = value;
      any = true;
    } else if (name == "tlskey") {
      key = value;
      any = true;
    } else if (name == "tlscacert") {
      ca = value;
      any = true;
    } else {
      continue;
    }
    o.set_by_flags.insert(name);
  }
  if (!any) return {};
  if (disabled) {
    o.tls = TlsOptions{};
    return {};
  }
  if (cert.empty()) return std::unexpected(std::string("TLS Server certificate must be present and valid"));
  if (key.empty()) return std::unexpected(std::string("TLS Server private key must be present and valid"));
  TlsOptions t;
  t.enabled = true;
  t.cert_file = cert;
  t.key_file = key;
  t.ca_file = ca;
  t.verify = verify;
  t.timeout_seconds = o.tls.timeout_seconds;
  o.tls = std::move(t);
  return {};
}

std::expected<void, std::string> apply_flags(Options& o, const CommandLine& cl) {
  if (auto r = apply_tls_flags(o, cl); !r) return r;
  for (const auto& [name, value] : cl.flag_values) {
    const bool on = value == "true";
    auto as_int = [&]() { return std::strtoll(value.c_str(), nullptr, 0); };
    if (name == "port") {
      o.port = static_cast<int>(as_int());
    } else if (name == "server_name") {
      o.server_name = value;
    } else if (name == "host") {
      o.host = value;
    } else if (name == "debug") {
      o.debug = on;
    } else if (name == "trace" || name == "trace_verbose") {
      o.trace = on;
    } else if (name == "debug_trace" || name == "debug_trace_verbose") {
      o.debug = on;
      o.trace = on;
    } else if (name == "logtime") {
      o.logtime = on;
    } else if (name == "user") {
      o.username = value;
    } else if (name == "pass") {
      o.password = value;
    } else if (name == "auth") {
      o.token = value;
    } else if (name == "http_port") {
      o.http_port = static_cast<int>(as_int());
    } else if (name == "pid") {
      o.pid_file = value;
    } else if (name == "ports_file_dir") {
      o.ports_file_dir = value;
    } else if (name == "log") {
      o.log_file = value;
    } else if (name == "io_threads") {
      o.io_threads = static_cast<int>(as_int());
    } else if (name == "node_info") {
      o.node_info = value;
    } else if (name == "registry") {
      o.registry = value;
    } else if (name == "registry_interval") {
      auto d = parse_go_duration(value);
      if (!d || d->count() <= 0) return std::unexpected("invalid duration \"" + value + "\" for -registry_interval");
      o.registry_interval = *d;
    } else if (name == "jetstream") {
      o.jetstream.enabled = on;
    } else if (name == "store_dir") {
      o.jetstream.store_dir = value;
    } else if (name == "client_advertise") {
      o.client_advertise = value;
    } else if (name == "cluster") {
      // nats://host:port (the listen address of the route port)
      auto listen = parse_listen_url(value);
      if (!listen) return std::unexpected("-cluster: " + listen.error());
      o.cluster.configured = true;
      o.cluster.host = listen->first;
      o.cluster.port = listen->second;
    } else if (name == "routes") {
      o.cluster.configured = true;
      o.cluster.routes.clear();
      std::size_t start = 0;
      while (start <= value.size()) {
        const auto comma = value.find(',', start);
        std::string part = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        part.erase(0, part.find_first_not_of(" \t"));
        part.erase(part.find_last_not_of(" \t") + 1);
        if (!part.empty()) o.cluster.routes.push_back(part);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (name == "cluster_name") {
      o.cluster.configured = true;
      o.cluster.name = value;
    } else if (name == "cluster_advertise") {
      o.cluster.advertise = value;
    } else if (name == "no_advertise") {
      o.cluster.no_advertise = on;
    } else if (name == "connect_retries") {
      o.cluster.connect_retries = static_cast<int>(as_int());
    } else if (name == "tls" || name == "tlsverify" || name == "tlscert" || name == "tlskey" ||
               name == "tlscacert") {
      continue;  // apply_tls_flags()
    } else if (name == "https_port") {
      o.https_port = static_cast<int>(as_int());
    } else if (name == "help_tls") {
      return std::unexpected(not_supported(name, "TLS"));
    } else {
      return std::unexpected(not_supported(name, "this option"));
    }
    o.set_by_flags.insert(name);
  }
  return {};
}

std::expected<Options, std::string> build_options(const CommandLine& cl) {
  Options o;
  if (!cl.config_file.empty()) {
    auto r = apply_config_file(o, cl.config_file);
    if (!r) return std::unexpected(r.error());
  }
  if (auto r = apply_flags(o, cl); !r) return std::unexpected(r.error());
  if (auto r = validate_options(o); !r) return std::unexpected(r.error());
  return o;
}

const char* usage_text() {
  return R"(
Usage: forest-server [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222, -1 for a random port)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -ms,--https_port <port>          Use port for https monitoring (with the tls {} certificate)
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to forest-server process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file
        --client_advertise <string>  Client URL to advertise to other servers
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports)
        --io_threads <n>             I/O threads (default: one per core)

Forest discovery (ours):
        --node-info <file>           This node's node-info.json: join its forest (cluster name,
                                     server name and peers from it and the registry)
        --registry <file>            The forest's shared registry.json, polled for new nodes
        --registry_interval <dur>    How often the registry is read (default 5s)
    forest-server registry add|remove|list ...  edits the registry (see --help there)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -DV                              Debug and trace

JetStream Options (single server; see broker/jetstream/README.md):
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options (the client port):
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --no_advertise <bool>        Advertise known cluster IPs to clients
        --connect_retries <number>   For implicit routes, number of connect retries

Forest Options (peers from the forest's registry, see README):
        --node-info <file>           This node's node-info.json (forest_id, node_id)
        --registry <file>            The forest's shared registry.json
        --registry_interval <dur>    How often the registry is re-read (default 5s)

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
)";
}

}  // namespace forest::broker
