// DeriveFields: the one place where a snapshot's derived socket fields are computed.
//
// Fills port category, exposure, direction and remote address class for every socket. Direction
// needs the whole snapshot (a connection is inbound when its local port is one of our listeners),
// which is why this runs over a snapshot and not over one socket.
#pragma once

#include "collectors/snapshot.h"

namespace portwatch::collectors {

void DeriveFields(Snapshot& snapshot);

}  // namespace portwatch::collectors
