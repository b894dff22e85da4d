// nats-server 2.9.10's AccountInfo of one account: the "account_detail" of /accountz?acc=
// and the data of $SYS.REQ.ACCOUNT.<account>.INFO.
//
// What a configured account (no JWT) shows there: its name, whether it is the system account,
// JetStream, its client connections and subscriptions, its exports and imports as applied
// (the system imports included, broker/system_imports.hpp) and its subject index statistics.
// Unlike nats-server:
//  - "update_time" is the server's start (accounts are made then; a reload changes imports
//    but makes no account);
//  - the index statistics are the account's own inserts, removes and walks: the match caches
//    belong to the server's threads, not to accounts, so the cache figures and fan-out are 0;
//  - "responses" (the replies an exporter still owes) and "mappings" (account subject
//    mappings, which forest-server does not have) are left out.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace forest::broker {

class Server;

// The AccountInfo JSON object, or nats-server's error text for an account that does not exist.
[[nodiscard]] std::expected<std::string, std::string> account_info_json(Server& server, std::string_view account);

}  // namespace forest::broker
