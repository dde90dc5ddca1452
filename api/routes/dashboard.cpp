// The dashboard: "/" is web/index.html and "/assets/<path>" every embedded file (api/assets.h).
//
// Public routes: the page and its scripts hold no data; every /api call the page makes carries
// the token. Only the embedded table answers, one exact route per file: an unknown path or a
// traversal ("/assets/../x", "%2e%2e") matches no route and gets 404, and whatever a path
// decodes to, nothing but an embedded file is ever sent. A browser may keep the files but must
// revalidate them (no-cache); the ETag turns an unchanged file into a 304. Files go out as they
// are, straight from the table and uncompressed (router.h says why).

#include <string>

#include "api/assets.h"
#include "api/routes/routes.h"

namespace portwatch::api {

namespace {

void SendAsset(const Asset& asset, Call& call) {
  httplib::Response& response = call.response;
  response.headers.erase("Cache-Control");  // the server's default is no-store
  response.set_header("Cache-Control", "no-cache");
  response.set_header("ETag", std::string(asset.etag));
  if (EtagMatches(call.request.get_header_value("If-None-Match"), asset.etag)) {
    response.status = 304;
    return;
  }
  response.status = 200;
  SendUncompressed(response, asset.content_type, asset.bytes);
}

}  // namespace

void AddDashboardRoutes(Router& router, const RouteContext&) {
  const std::span<const Asset> assets = DashboardAssets();
  if (const Asset* index = FindAsset("index.html")) {
    router.Add({"GET", "/", Access::kPublic, {}, [index](Call& call) { SendAsset(*index, call); }});
  }
  for (const Asset& asset : assets) {
    router.Add(
        {"GET", "/assets/" + std::string(asset.path), Access::kPublic, {}, [&asset](Call& call) {
           SendAsset(asset, call);
         }});
  }
}

}  // namespace portwatch::api
