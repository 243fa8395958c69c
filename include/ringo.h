/*
 * ringo.h - umbrella header of ringo, an io_uring-native HTTP/1.1 server
 * framework. See docs/api.md for the contract of every call.
 */
#ifndef RINGO_H
#define RINGO_H

#include "ringo/common.h"
#include "ringo/app.h"
#include "ringo/request.h"
#include "ringo/response.h"
#include "ringo/params.h"
#include "ringo/await.h"
#include "ringo/pool.h"
#include "ringo/deps.h"
#include "ringo/background.h"
#include "ringo/middleware.h"
#include "ringo/error_handler.h"
#include "ringo/lifespan.h"
#include "ringo/health.h"
#include "ringo/stream.h"
#include "ringo/body.h"
#include "ringo/form.h"
#include "ringo/file.h"
#include "ringo/ws.h"
#include "ringo/static.h"
#include "ringo/compress.h"
#include "ringo/json.h"
#include "ringo/schema.h"
#include "ringo/openapi.h"
#include "ringo/check.h"

#endif
