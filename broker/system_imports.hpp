// The imports nats-server gives every account when there is a system account, so that any
// client can ask about its own account without being a system user:
//
//   $SYS.REQ.SERVER.PING.CONNZ   -> $SYS.REQ.ACCOUNT.<account>.CONNZ   (its connections)
//   $SYS.REQ.ACCOUNT.PING.CONNZ  -> $SYS.REQ.ACCOUNT.<account>.CONNZ
//   $SYS.REQ.ACCOUNT.PING.STATZ  -> $SYS.REQ.ACCOUNT.<account>.STATZ   (its statistics)
//
// and the system account's service exports they import from ($SYS.REQ.ACCOUNT.*.CONNZ and
// .STATZ, streamed responses: every server of a cluster answers). They are ordinary service
// imports (broker/imports.hpp), added to the configured ones before they are applied; an
// account that imports one of these subjects itself keeps its own (nats-server's
// serviceImportExists). nats-server also exports $SYS.DEBUG.SUBSCRIBERS, which we do not
// serve, so it is not exported either.
#pragma once

#include <string>
#include <vector>

#include "options.hpp"

namespace forest::broker {

// `configured` with the system imports added to every account of `account_names` other than
// `system_account`, and the exports to `system_account` (entries are made for accounts the
// configuration does not list, such as $G). Without a system account: `configured` as is.
[[nodiscard]] std::vector<AccountConfig> with_system_imports(const std::vector<AccountConfig>& configured,
                                                             const std::string& system_account,
                                                             const std::vector<std::string>& account_names);

}  // namespace forest::broker
