// /api/v1/openapi.json: the API described in OpenAPI 3, embedded at build time from
// api/openapi.json (a test checks that it and the route table agree).

#include "api/routes/routes.h"

namespace portwatch::api {

extern const char* const kOpenApiDocument;

void AddDocumentRoutes(Router& router, const RouteContext&) {
  router.Add({"GET", "/api/v1/openapi.json", Access::kToken, {}, [](Call& call) {
                SendJson(call.response, kOpenApiDocument);
              }});
}

}  // namespace portwatch::api
