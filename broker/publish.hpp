// Routing one message: match the subject in the account's index (through the calling thread's
// cache), deliver to every local plain subscriber, pick one member of each queue group, and
// give each route with interest one copy (RMSG) naming the queue groups it should serve.
//
// A message from a route is delivered locally only (never to another route: one hop), to the
// plain subscribers and to a local member of each queue group the route named.
#pragma once

#include <span>
#include <string_view>

#include "match_cache.hpp"
#include "subscription.hpp"

namespace forest::broker {

// Returns whether anyone took the message (a route counts). `skip` (may be null) is a sink
// that must not get its own message back (CONNECT echo=false). `queue_filter`: for a message
// from a route, the queue groups it names.
bool route_message(MatchCache& cache, const Delivery& msg, const MessageSink* skip,
                   std::span<const std::string_view> queue_filter = {});

// Routes a run of messages on one subject, from a local client, none with a reply subject
// (nobody waits for no-responders): one lookup for all; each plain subscriber takes the run
// at once (MessageSink::deliver_run), each message picks its own queue members and goes to
// the routes with interest, in order.
void route_run(MatchCache& cache, std::span<const Delivery> run, const MessageSink* skip);

class Sublist;

// Routing inside an import's deliver() (broker/imports.hpp), on the publisher's thread but
// into another account: matched in that account's index directly (the thread may have no
// cache for it), with its own route targets (the outer route_message is still running).
// `local_only`: local subscribers and local queue members only, and no other import (a stream
// import: every server imports for its own clients); else routed as a client's publish.
bool route_imported(const Sublist& index, const Delivery& msg, bool local_only);

}  // namespace forest::broker
