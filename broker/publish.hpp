// Message routing inside one server: match the subject in the account's index (through the
// calling thread's cache), deliver to every plain subscriber and to one member of each queue
// group. Used by client connections now, and by routes and internal clients later.
#pragma once

#include "subscription.hpp"
#include "match_cache.hpp"

namespace forest::broker {

// Returns whether anyone took the message. `skip` (may be null) is a sink that must not get
// its own message back (CONNECT echo=false).
bool route_message(MatchCache& cache, const Delivery& msg, const MessageSink* skip);

}  // namespace forest::broker
