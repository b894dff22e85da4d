// Server options: nats-server's names, defaults and meanings, filled from the command line
// and the configuration file (flags win, as in nats-server).
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "account_limits.hpp"
#include "permissions.hpp"

namespace forest::broker {

using Duration = std::chrono::nanoseconds;

inline constexpr int kRandomPort = -1;  // "-p -1": pick a free port
inline constexpr const char* kSystemAccount = "$SYS";  // nats-server's default system account name

struct User {
  std::string username;  // empty for an nkey user
  std::string password;
  std::string nkey;      // an nkey user's public key ("U..."): signs the INFO nonce instead of a password
  std::string account;  // empty: the global account
  // Its own permissions, or the authorization block's default_permissions; null: none.
  std::shared_ptr<const PermissionRules> permissions;
  // `allowed_connection_types`, upper case (kConnectionTypes); empty: any.
  std::vector<std::string> allowed_connection_types;
};

// The connection types a user may be limited to: nats-server 2.9's, and IN_PROCESS (2.10's
// name) for the embedding app's in-process connections. TCP clients are STANDARD.
inline constexpr const char* kConnectionTypes[] = {"STANDARD", "WEBSOCKET", "LEAFNODE", "LEAFNODE_WS",
                                                   "MQTT",     "MQTT_WS",   "IN_PROCESS"};

// An account of the `accounts` block: its own subject space (broker/account.hpp). Its users
// are in Options::users, with `account` set to its name.
// An account's exports and imports (nats-server 2.9's `exports [...]`, `imports [...]`),
// checked against each other when the file is parsed (broker/imports.hpp runs them).
enum class ResponseType : uint8_t { singleton, stream, chunked };

struct StreamExport {
  std::string subject;
  std::vector<std::string> accounts;  // empty: public
  // `account_token_position: N` (1-based; 0: none): the export's Nth token is a `*` that an
  // importer may only fill with its own account name (it overrides `accounts`).
  int64_t account_token_position = 0;
  bool operator==(const StreamExport&) const = default;
};

// `latency: {sampling: 50%, subject: "latency.svc"}` (or just the subject: 100%): measured
// requests are reported on `subject` in the exporting account (broker/service_latency.hpp).
struct ServiceLatencyConfig {
  int sampling = 100;  // 1..100 percent; 0: the requests' tracing headers decide
  std::string subject;
  bool operator==(const ServiceLatencyConfig&) const = default;
};

struct ServiceExport {
  std::string subject;
  std::vector<std::string> accounts;  // empty: public
  ResponseType response_type = ResponseType::singleton;
  Duration response_threshold{0};  // 0: nats-server's default, 2 minutes
  std::optional<ServiceLatencyConfig> latency;
  int64_t account_token_position = 0;  // as StreamExport's
  bool operator==(const ServiceExport&) const = default;
  [[nodiscard]] Duration threshold() const {
    return response_threshold.count() > 0 ? response_threshold : Duration(std::chrono::minutes(2));
  }
};

// Messages of `account` on `subject` (its export) are seen here on `to` (a `prefix` becomes
// "prefix.subject"; the '*'s of `subject` fill those of `to` in order, a trailing '>' the rest).
struct StreamImport {
  std::string account;
  std::string subject;
  std::string to;
  bool operator==(const StreamImport&) const = default;
};

// Requests published here on `to` go to `account` on `subject`; the replies come back.
struct ServiceImport {
  std::string account;
  std::string subject;
  std::string to;
  bool share = false;  // `share: true`: latency reports name the requester in full
  bool operator==(const ServiceImport&) const = default;
};

struct AccountConfig {
  std::string name;
  AccountLimits limits;
  std::vector<StreamExport> stream_exports;
  std::vector<ServiceExport> service_exports;
  std::vector<StreamImport> stream_imports;
  std::vector<ServiceImport> service_imports;
  [[nodiscard]] bool same_imports_exports(const AccountConfig& o) const {
    return stream_exports == o.stream_exports && service_exports == o.service_exports &&
           stream_imports == o.stream_imports && service_imports == o.service_imports;
  }
};

// A tls {} block (nats-server's TLSConfigOpts) or the --tls flags. The certificate files are
// read when the server builds its TLS context (startup, reload), not when the options are parsed.
struct TlsOptions {
  bool enabled = false;  // a tls block or --tls: the client port requires TLS
  std::string cert_file, key_file, ca_file;
  bool verify = false;  // require and verify a client certificate
  bool map = false;     // verify_and_map: the client certificate names the user (implies verify)
  bool insecure = false;  // a dialing side (routes) does not check the peer's certificate
  // pinned_certs: hex SHA-256 (lower case) of the SubjectPublicKeyInfo a peer's certificate
  // must have; empty: any.
  std::vector<std::string> pinned_certs;
  double timeout_seconds = 0;  // 0: nats-server's default, 2 s
  std::string min_version;     // "1.2" or "1.3" (ours, as nats-server 2.10 has it); empty: TLS 1.2
  std::vector<std::string> cipher_suites;      // Go names; empty: the defaults
  std::vector<std::string> curve_preferences;  // Go names; empty: the defaults
  bool operator==(const TlsOptions&) const = default;
  [[nodiscard]] double timeout() const { return timeout_seconds > 0 ? timeout_seconds : 2.0; }
};

struct ClusterOptions {
  bool configured = false;
  std::string name;
  std::string host = "0.0.0.0";
  int port = 0;
  std::string advertise;
  bool no_advertise = false;
  int connect_retries = 0;
  int pool_size = 0;  // accepted for 2.10 configs; 2.9's routes have no pooling
  std::vector<std::string> routes;
  std::string username, password;
  double auth_timeout_seconds = 0;
  TlsOptions tls;  // cluster { tls {} }: enabled when given; verification is always on for routes
};

struct JetStreamOptions {
  bool enabled = false;
  std::string store_dir;
  int64_t max_memory = -1;
  int64_t max_store = -1;
  std::string domain;
  std::string sync_interval;  // "always" or a duration (default 2m); checked by validate_options
};

struct Options {
  // Listening
  std::string host = "0.0.0.0";
  int port = 4222;
  std::string server_name;
  std::string client_advertise;  // host[:port] clients are told to use (connect_urls)
  std::string http_host;  // defaults to `host`
  int http_port = 0;      // 0: monitoring off
  int https_port = 0;     // monitoring over TLS with the tls {} block's certificate (not with http_port)
  std::string ports_file_dir;
  bool dont_listen = false;  // no client listener (an embedder with in-process clients only)

  // Limits (nats-server defaults)
  int64_t max_payload = 1024 * 1024;
  int64_t max_pending = 64LL * 1024 * 1024;
  int64_t max_control_line = 4096;
  int64_t max_connections = 64 * 1024;
  int64_t max_subscriptions = 0;  // 0: unlimited
  Duration ping_interval = std::chrono::minutes(2);
  int ping_max = 2;
  Duration write_deadline = std::chrono::seconds(10);
  Duration auth_timeout = std::chrono::seconds(2);
  // An authorization timeout was configured; else, with TLS, nats-server makes it the TLS
  // timeout plus one second (effective_auth_timeout()).
  bool auth_timeout_set = false;
  Duration lame_duck_duration = std::chrono::minutes(2);
  Duration lame_duck_grace_period = std::chrono::seconds(10);

  // TLS on the client port.
  TlsOptions tls;

  // Authorization
  std::string username;
  std::string password;
  std::string token;
  std::vector<User> users;
  std::vector<AccountConfig> accounts;  // besides the global account $G
  // The system account (`system_account`): its users may send the server's $SYS requests
  // (broker/system_service.hpp). Empty: none, unless an account is named "$SYS".
  std::string system_account;
  bool no_system_account = false;  // accepted; without system_account there is none anyway

  // The system account in force: system_account, or an account named "$SYS"; none with
  // no_system_account. (nats-server always makes "$SYS"; here it exists only when configured.)
  [[nodiscard]] std::string effective_system_account() const {
    if (no_system_account) return {};
    if (!system_account.empty()) return system_account;
    for (const AccountConfig& a : accounts) {
      if (a.name == kSystemAccount) return a.name;
    }
    return {};
  }
  std::string no_auth_user;

  // Logging
  bool debug = false;
  bool trace = false;
  bool logtime = true;
  std::string log_file;
  std::string pid_file;

  // Clustering, and discovery from the forest registry (node_info/registry turn it on; the
  // forest app always uses it).
  ClusterOptions cluster;
  std::string node_info;  // path of node-info.json
  std::string registry;   // path of registry.json
  Duration registry_interval = std::chrono::seconds(5);  // how often the registry is polled
  [[nodiscard]] bool discovery() const { return !node_info.empty() || !registry.empty(); }
  JetStreamOptions jetstream;

  // Ours: I/O threads (0: one per core).
  int io_threads = 0;

  // The configuration file these options came from, if any.
  std::string config_file;
  // Names of options set on the command line; a reload keeps them (flags win).
  std::set<std::string> set_by_flags;

  [[nodiscard]] Duration effective_auth_timeout() const {
    if (auth_timeout_set || !tls.enabled) return auth_timeout;
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(tls.timeout() + 1.0));
  }
  [[nodiscard]] bool auth_required() const { return !username.empty() || !token.empty() || !users.empty(); }
  // nats-server's clientHasMovedToDifferentAccount, on a reload: whether a client authorized as
  // `user` (or with the nkey `nkey`) in `account` names a user these options no longer have,
  // or one that now belongs to another account. Such a client is closed as "Client Closed" (it
  // reconnects into the new account), not as an authorization violation, and before its
  // credentials are checked again. One authorized as no user (a token, none) is neither.
  // Unlike nats-server, the single `user` of an authorization block counts as known (Go keeps
  // no user list for it, so every client that named a user is closed on such a reload).
  [[nodiscard]] bool user_moved_or_gone(const std::string& user, const std::string& nkey,
                                        const std::string& account) const {
    const std::string global = "$G";  // broker/account.hpp's kGlobalAccount
    if (user.empty() && nkey.empty()) return false;
    if (nkey.empty() && user == username) return account != global;
    for (const User& u : users) {
      if (nkey.empty() ? u.username == user : u.nkey == nkey) return (u.account.empty() ? global : u.account) != account;
    }
    return true;
  }
};

// Parses a Go duration ("2m", "1h30m", "500ms", "1.5s", "10us").
[[nodiscard]] std::optional<Duration> parse_go_duration(const std::string& text);
// Formats like Go's time.Duration.String() ("2m0s", "10s", "1.5s").
[[nodiscard]] std::string format_go_duration(Duration d);

// Applies a configuration file to `opts`. The error names file, line and column.
[[nodiscard]] std::expected<void, std::string> apply_config_file(Options& opts, const std::string& path);
// Same, from text (for tests).
[[nodiscard]] std::expected<void, std::string> apply_config_text(Options& opts, const std::string& text,
                                                                 const std::string& name);

// Startup (and reload) checks that need all options (e.g. user/pass together with a token).
[[nodiscard]] std::expected<void, std::string> validate_options(const Options& opts);
// The authorization part of validate_options: contradictory credential settings, wherever they
// came from (flags or the config file); the error names what is wrong and where it came from.
[[nodiscard]] std::expected<void, std::string> validate_auth(const Options& opts);

}  // namespace forest::broker
