// The dashboard's embedded files (api/assets.h): what the table holds, their types, the size
// budget and If-None-Match. The routes that serve them are tested in server_test.cpp.
#include "api/assets.h"

#include <gtest/gtest.h>

#include <string_view>

namespace portwatch::api {
namespace {

TEST(Assets, EmbedsThePageItsScriptsStylesAndBothLanguages) {
  for (const char* path : {"index.html", "app.js", "style.css", "pages/overview.js",
                           "pages/connections.js", "i18n/en.json", "i18n/ar.json"}) {
    const Asset* asset = FindAsset(path);
    ASSERT_NE(asset, nullptr) << path;
    EXPECT_FALSE(asset->bytes.empty()) << path;
    EXPECT_EQ(asset->etag.size(), 34u) << asset->etag;
    EXPECT_EQ(asset->etag.front(), '"');
  }
  EXPECT_NE(FindAsset("index.html")->bytes.find("/assets/app.js"), std::string_view::npos);
  // Arabic text arrives byte for byte: "نظرة عامة" (overview) in UTF-8.
  EXPECT_NE(FindAsset("i18n/ar.json")->bytes.find("\xd9\x86\xd8\xb8\xd8\xb1\xd8\xa9"),
            std::string_view::npos);
  EXPECT_EQ(FindAsset("../web/index.html"), nullptr);
  EXPECT_EQ(FindAsset("/index.html"), nullptr);
  EXPECT_EQ(FindAsset(""), nullptr);
}

TEST(Assets, StayWithinTheSizeBudget) {
  size_t code = 0;
  for (const Asset& asset : DashboardAssets()) {
    if (asset.path.ends_with(".html") || asset.path.ends_with(".js") ||
        asset.path.ends_with(".css")) {
      code += asset.bytes.size();
    }
  }
  EXPECT_GT(code, 0u);
  EXPECT_LT(code, 150u * 1024) << "the dashboard's HTML, JS and CSS";
}

TEST(Assets, ChooseTheContentTypeByExtension) {
  EXPECT_EQ(ContentTypeFor("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("pages/alerts.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("style.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("i18n/ar.json"), "application/json; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("favicon.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("notes.txt"), "application/octet-stream");
}

TEST(Assets, MatchIfNoneMatchAsRfc9110Says) {
  EXPECT_TRUE(EtagMatches("\"abc\"", "\"abc\""));
  EXPECT_TRUE(EtagMatches("W/\"abc\"", "\"abc\""));
  EXPECT_TRUE(EtagMatches("\"x\", \"abc\"", "\"abc\""));
  EXPECT_TRUE(EtagMatches(" * ", "\"abc\""));
  EXPECT_FALSE(EtagMatches("", "\"abc\""));
  EXPECT_FALSE(EtagMatches("\"abcd\"", "\"abc\""));
  EXPECT_FALSE(EtagMatches("abc", "\"abc\""));
  EXPECT_FALSE(EtagMatches(",", "\"abc\""));
}

}  // namespace
}  // namespace portwatch::api
