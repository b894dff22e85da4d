#include "discovery/registry_cli.hpp"

#include <expected>
#include <map>
#include <ostream>
#include <set>

#include "discovery/addresses.hpp"
#include "discovery/node_info.hpp"
#include "discovery/paths.hpp"
#include "discovery/registry.hpp"
#include "discovery/registry_update.hpp"

namespace forest::discovery {

namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

struct Parsed {
  std::string command;
  std::map<std::string, std::string> flags;
};

// `--flag value` or `--flag=value`, one or two dashes (as nats-server's own flags).
std::expected<Parsed, std::string> parse(const std::vector<std::string>& args, const std::set<std::string>& allowed) {
  Parsed p;
  p.command = args.front();
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string a = args[i];
    if (a.size() < 2 || a[0] != '-') return std::unexpected("unexpected argument \"" + a + "\"");
    a.erase(0, a[1] == '-' ? 2 : 1);
    std::string value;
    if (const auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a.resize(eq);
    } else {
      if (i + 1 >= args.size()) return std::unexpected("flag --" + a + " needs a value");
      value = args[++i];
    }
    if (!allowed.contains(a)) return std::unexpected("unknown flag --" + a + " for \"registry " + p.command + "\"");
    if (value.empty()) return std::unexpected("flag --" + a + " needs a non-empty value");
    p.flags[a] = value;
  }
  return p;
}

std::string flag(const Parsed& p, const std::string& name) {
  const auto it = p.flags.find(name);
  return it == p.flags.end() ? std::string() : it->second;
}

Paths paths_of(const Parsed& p) { return resolve_paths(PathOverrides{flag(p, "node-info"), flag(p, "registry")}); }

// --forest, else the forest of this machine's node-info.
std::expected<std::string, int> forest_of(const Parsed& p, const Paths& paths, std::ostream& err) {
  if (auto f = flag(p, "forest"); !f.empty()) return f;
  auto info = load_node_info(paths.node_info);
  if (!info) {
    err << "forest-server registry: " << info.error().to_string() << "\n";
    return std::unexpected(kFailed);
  }
  if (!*info) {
    err << "forest-server registry: no --forest given and no node-info at " << paths.node_info << "\n";
    return std::unexpected(kUsage);
  }
  return (*info)->forest_id;
}

void report_lock(const UpdateResult& r, const std::string& registry, std::ostream& err) {
  if (!r.lock_forced) return;
  err << "forest-server registry: warning: took the lock " << lock_path_for(registry)
      << " by force after the Go app's timeout (held by: "
      << (r.previous_lock_holder.empty() ? std::string("unknown, an empty lock file") : r.previous_lock_holder)
      << "); if that writer was still running, its update may be lost\n";
}

std::expected<std::string, std::string> address_flag(const Parsed& p, const char* name, int family) {
  const std::string v = flag(p, name);
  if (v.empty()) return v;
  const std::string n = normalize_address(v);
  const bool v6 = n.find(':') != std::string::npos;
  if (!is_ip_address(n) || (family == 4 && v6) || (family == 6 && !v6)) {
    return std::unexpected(std::string("--") + name + " \"" + v + "\" is not an " +
                           (family == 4 ? "IPv4" : family == 6 ? "IPv6" : "IP") + " address");
  }
  return n;
}

int add(const Parsed& p, std::ostream& out, std::ostream& err) {
  RegistryNode node;
  node.id = flag(p, "id");
  if (node.id.empty()) {
    err << "forest-server registry add: --id is required\n" << registry_usage_text();
    return kUsage;
  }
  auto ip = address_flag(p, "ip", 0);
  auto ipv6 = address_flag(p, "ipv6", 6);
  auto ipv4 = address_flag(p, "ipv4", 4);
  for (const auto* a : {&ip, &ipv6, &ipv4}) {
    if (!*a) {
      err << "forest-server registry add: " << a->error() << "\n";
      return kUsage;
    }
  }
  node.ipv6 = *ipv6;
  node.ipv4 = *ipv4;
  // Every reader understands "ip"; the newer fields are optional.
  node.ip = !ip->empty() ? *ip : !node.ipv6.empty() ? node.ipv6 : node.ipv4;
  if (node.ip.empty()) {
    err << "forest-server registry add: give --ip (or --ipv6 / --ipv4)\n" << registry_usage_text();
    return kUsage;
  }
  const Paths paths = paths_of(p);
  auto forest = forest_of(p, paths, err);
  if (!forest) return forest.error();
  node.forest_id = *forest;
  auto r = upsert_node(paths.registry, node);
  if (!r) {
    err << "forest-server registry add: " << r.error().to_string() << "\n";
    return kFailed;
  }
  report_lock(*r, paths.registry, err);
  out << to_string(r->outcome) << " node " << node.id << " (" << node.ip << ") in forest " << node.forest_id << " of "
      << paths.registry << "\n";
  return kOk;
}

int remove(const Parsed& p, std::ostream& out, std::ostream& err) {
  const std::string id = flag(p, "id");
  if (id.empty()) {
    err << "forest-server registry remove: --id is required\n" << registry_usage_text();
    return kUsage;
  }
  const Paths paths = paths_of(p);
  auto forest = forest_of(p, paths, err);
  if (!forest) return forest.error();
  auto r = remove_node(paths.registry, *forest, id);
  if (!r) {
    err << "forest-server registry remove: " << r.error().to_string() << "\n";
    return kFailed;
  }
  report_lock(*r, paths.registry, err);
  if (r->outcome == UpdateOutcome::not_found) {
    // Not an error: removing is idempotent, so deprovisioning scripts can simply re-run.
    out << "node " << id << " is not in forest " << *forest << " of " << paths.registry << ": nothing to do\n";
  } else {
    out << "removed node " << id << " from forest " << *forest << " of " << paths.registry << "\n";
  }
  return kOk;
}

int list(const Parsed& p, std::ostream& out, std::ostream& err) {
  const Paths paths = paths_of(p);
  auto reg = load_registry(paths.registry);
  if (!reg) {
    err << "forest-server registry list: " << reg.error().to_string() << "\n";
    return kFailed;
  }
  const std::string only = flag(p, "forest");
  auto cell = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  out << "FOREST\tID\tIP\tIPV6\tIPV4\n";
  for (const auto& [forest_id, nodes] : reg->forests) {
    if (!only.empty() && forest_id != only) continue;
    for (const auto& n : nodes) {
      out << forest_id << '\t' << cell(n.id) << '\t' << cell(n.ip) << '\t' << cell(n.ipv6) << '\t' << cell(n.ipv4)
          << '\n';
    }
  }
  return kOk;
}

}  // namespace

const char* registry_usage_text() {
  return "Usage:\n"
         "  forest-server registry add    --id ID --ip IP [--ipv6 IPV6] [--ipv4 IPV4] [--forest F] [--registry PATH] [--node-info PATH]\n"
         "  forest-server registry remove --id ID [--forest F] [--registry PATH] [--node-info PATH]\n"
         "  forest-server registry list   [--forest F] [--registry PATH]\n"
         "\n"
         "The forest defaults to forest_id of this machine's node-info. Paths default to\n"
         "$NATS_CLUSTER_REGISTRY or /mnt/forest/registry.json, and $NATS_CLUSTER_NODE_INFO or\n"
         "/etc/nimsforest/node-info.json (else /etc/morpheus/node-info.json). Changes are made\n"
         "under <registry>.lock, the Go app's lock, and replace the file atomically.\n";
}

int run_registry_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args.front() == "help" || args.front() == "--help" || args.front() == "-h") {
    (args.empty() ? err : out) << registry_usage_text();
    return args.empty() ? kUsage : kOk;
  }
  for (const auto& a : args) {
    if (a == "--help" || a == "-h" || a == "-help") {
      out << registry_usage_text();
      return kOk;
    }
  }
  const std::string& command = args.front();
  std::set<std::string> allowed;
  if (command == "add") {
    allowed = {"id", "ip", "ipv6", "ipv4", "forest", "registry", "node-info"};
  } else if (command == "remove" || command == "rm") {
    allowed = {"id", "forest", "registry", "node-info"};
  } else if (command == "list" || command == "ls") {
    allowed = {"forest", "registry"};
  } else {
    err << "forest-server registry: unknown command \"" << command << "\"\n" << registry_usage_text();
    return kUsage;
  }
  auto parsed = parse(args, allowed);
  if (!parsed) {
    err << "forest-server registry " << command << ": " << parsed.error() << "\n" << registry_usage_text();
    return kUsage;
  }
  if (command == "add") return add(*parsed, out, err);
  if (command == "remove" || command == "rm") return remove(*parsed, out, err);
  return list(*parsed, out, err);
}

}  // namespace forest::discovery
