#include "api/assets.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "api/embedded_files.h"

namespace portwatch::api {

namespace {

std::vector<Asset> BuildAssets() {
  std::vector<Asset> assets;
  for (const EmbeddedFile& file : EmbeddedWebFiles()) {
    assets.push_back({file.path, ContentTypeFor(file.path), file.bytes, file.etag});
  }
  std::sort(assets.begin(), assets.end(),
            [](const Asset& a, const Asset& b) { return a.path < b.path; });
  return assets;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::span<const Asset> DashboardAssets() {
  static const std::vector<Asset> assets = BuildAssets();
  return assets;
}

const Asset* FindAsset(std::string_view path) {
  const std::span<const Asset> assets = DashboardAssets();
  const auto it =
      std::lower_bound(assets.begin(), assets.end(), path,
                       [](const Asset& asset, std::string_view p) { return asset.path < p; });
  return it != assets.end() && it->path == path ? &*it : nullptr;
}

std::string_view ContentTypeFor(std::string_view path) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kTypes = {{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
  }};
  for (const auto& [extension, type] : kTypes) {
    if (path.ends_with(extension)) return type;
  }
  return "application/octet-stream";
}

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  if (Trim(if_none_match) == "*") return true;
  while (!if_none_match.empty()) {
    const size_t comma = if_none_match.find(',');
    std::string_view candidate = Trim(if_none_match.substr(0, comma));
    if (candidate.starts_with("W/")) candidate.remove_prefix(2);
    if (!candidate.empty() && candidate == etag) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace portwatch::api
