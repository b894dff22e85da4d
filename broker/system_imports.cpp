#include "system_imports.hpp"

#include <algorithm>

#include "subject.hpp"

namespace forest::broker {
namespace {

constexpr const char* kAccountRequest = "$SYS.REQ.ACCOUNT.";

AccountConfig& entry_for(std::vector<AccountConfig>& accounts, const std::string& name) {
  for (AccountConfig& a : accounts) {
    if (a.name == name) return a;
  }
  AccountConfig& a = accounts.emplace_back();
  a.name = name;
  return a;
}

// Unless a configured export covers it already (nats-server's hasServiceExportMatching).
void add_export(AccountConfig& system, const std::string& kind) {
  // Built with append: GCC 12 reports a false -Warray-bounds for `std::string(...) + "..."`.
  std::string subject(kAccountRequest);
  subject.append("*.").append(kind);
  for (const ServiceExport& e : system.service_exports) {
    if (subject_is_subset(subject, e.subject)) return;
  }
  ServiceExport e;
  e.subject = subject;
  e.response_type = ResponseType::stream;
  e.account_token_position = 4;  // an importer fills the `*` with its own name only
  system.service_exports.push_back(std::move(e));
}

void add_import(AccountConfig& importer, const std::string& system, const std::string& local, const std::string& kind) {
  const bool taken = std::any_of(importer.service_imports.begin(), importer.service_imports.end(),
                                 [&](const ServiceImport& i) { return i.to == local; });
  if (taken) return;
  ServiceImport i;
  i.account = system;
  i.subject = kAccountRequest;
  i.subject.append(importer.name).append(".").append(kind);
  i.to = local;
  importer.service_imports.push_back(std::move(i));
}

}  // namespace

std::vector<AccountConfig> with_system_imports(const std::vector<AccountConfig>& configured,
                                               const std::string& system_account,
                                               const std::vector<std::string>& account_names) {
  std::vector<AccountConfig> out = configured;
  if (system_account.empty()) return out;
  AccountConfig& system = entry_for(out, system_account);
  add_export(system, "CONNZ");
  add_export(system, "STATZ");
  for (const std::string& name : account_names) {
    if (name == system_account) continue;
    AccountConfig& a = entry_for(out, name);  // (may move `system`: not used below)
    add_import(a, system_account, "$SYS.REQ.SERVER.PING.CONNZ", "CONNZ");
    add_import(a, system_account, "$SYS.REQ.ACCOUNT.PING.CONNZ", "CONNZ");
    add_import(a, system_account, "$SYS.REQ.ACCOUNT.PING.STATZ", "STATZ");
  }
  return out;
}

}  // namespace forest::broker
