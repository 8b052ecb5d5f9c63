/* weft.h: the umbrella header. Includes every public weft header; include
 * the one header of the concept you use (weft/chan.h, ...) to keep builds
 * lean, or this one for everything. See docs/ARCHITECTURE.md for the map. */
#ifndef WEFT_H
#define WEFT_H

#include <weft/error.h>
#include <weft/time.h>
#include <weft/metrics.h>
#include <weft/sync.h>
#include <weft/chan.h>
#include <weft/future.h>
#include <weft/pool.h>
#include <weft/procpool.h>
#include <weft/shm.h>
#include <weft/coro.h>
#include <weft/loop.h>
#include <weft/net.h>
#include <weft/tls.h>
#include <weft/http.h>
#include <weft/csv.h>

#endif
