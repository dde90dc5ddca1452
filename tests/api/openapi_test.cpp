// The OpenAPI document (api/openapi.json, served at /api/v1/openapi.json) against the real route
// table, both ways: every route is documented and every documented operation is a route, with the
// same query and path parameters and the security its Access wants. Then the answers of a real
// server over a real database are checked against the schemas the document gives for them, so a
// field a handler adds, drops or retypes shows up here.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/rules/rules_json.h"
#include "api/alert_json.h"
#include "api/server.h"
#include "api/socket_json.h"
#include "store/alerts.h"
#include "store/database.h"
#include "store/deliveries.h"
#include "store/history_writer.h"
#include "tests/agent/notify/sample_alerts.h"
#include "tests/api/api_fixture.h"
#include "tests/support/snapshot_builder.h"

namespace portwatch::api {
namespace {

using collectors::SocketState;
using nlohmann::json;
using portwatch::testing::Listener;
using portwatch::testing::Packet;
using portwatch::testing::Proc;
using portwatch::testing::Raw;
using portwatch::testing::SnapshotBuilder;
using portwatch::testing::Tcp;
using portwatch::testing::Udp;
constexpr const char* kOperations[] = {"get",     "put",  "post",  "delete",
                                       "options", "head", "patch", "trace"};

// Routes the document covers; others (the dashboard's /, /assets/...) are not part of the API.
bool InScope(const std::string& pattern) {
  return pattern.starts_with("/api/") || pattern == "/metrics" || pattern == "/healthz" ||
         pattern == "/readyz";
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// "{id}" placeholders of a pattern, in order.
std::vector<std::string> Placeholders(const std::string& pattern) {
  std::vector<std::string> names;
  for (size_t open = pattern.find('{'); open != std::string::npos;
       open = pattern.find('{', open + 1)) {
    names.push_back(pattern.substr(open + 1, pattern.find('}', open) - open - 1));
  }
  return names;
}

// Follows $ref (only local ones, "#/components/..."), at most a few hops; null when it dangles.
const json* Resolve(const json& document, const json& node) {
  const json* at = &node;
  for (int hops = 0; at->is_object() && at->contains("$ref"); ++hops) {
    const std::string ref = (*at)["$ref"].get<std::string>();
    if (hops == 8 || !ref.starts_with("#/")) return nullptr;
    const json::json_pointer pointer(ref.substr(1));
    if (!document.contains(pointer)) return nullptr;
    at = &document.at(pointer);
  }
  return at;
}

// Every $ref in the document, with where it is.
void CollectRefs(const json& node, const std::string& where,
                 std::vector<std::pair<std::string, std::string>>& refs) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "$ref" && value.is_string()) refs.emplace_back(where, value.get<std::string>());
      CollectRefs(value, where + "/" + key, refs);
    }
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i)
      CollectRefs(node[i], where + "/" + std::to_string(i), refs);
  }
}

// An operation's parameters (the path item's and its own), resolved.
std::vector<json> Parameters(const json& document, const json& path_item, const json& operation) {
  std::vector<json> parameters;
  for (const json* list : {&path_item, &operation}) {
    if (!list->contains("parameters")) continue;
    for (const json& parameter : (*list)["parameters"]) {
      const json* resolved = Resolve(document, parameter);
      parameters.push_back(resolved ? *resolved : json{{"name", "(dangling $ref)"}});
    }
  }
  return parameters;
}

std::set<std::string> NamesIn(const std::vector<json>& parameters, const std::string& in) {
  std::set<std::string> names;
  for (const json& parameter : parameters) {
    if (parameter.value("in", "") == in) names.insert(parameter.value("name", ""));
  }
  return names;
}

std::string Join(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "(none)" : out;
}

// A small validator for the subset of OpenAPI 3.0 schemas the document uses: $ref, allOf, type,
// nullable, enum, minimum/maximum, required, properties, additionalProperties, items. A property
// the value has but the schema does not declare is a problem too (unless the schema declares no
// properties at all, or allows additional ones).
class SchemaCheck {
 public:
  explicit SchemaCheck(const json& document) : document_(document) {}

  std::vector<std::string> Problems(const json& schema, const json& value) {
    problems_.clear();
    Check(schema, value, "$", true);
    return problems_;
  }

 private:
  void Collect(const json& schema, std::set<std::string>& keys, bool& open) const {
    const json* resolved = Resolve(document_, schema);
    if (resolved == nullptr) return;
    if (resolved->contains("properties")) {
      for (const auto& [key, unused] : (*resolved)["properties"].items()) keys.insert(key);
    }
    if (resolved->contains("additionalProperties") &&
        (*resolved)["additionalProperties"] != json(false)) {
      open = true;
    }
    if (resolved->contains("allOf")) {
      for (const json& part : (*resolved)["allOf"]) Collect(part, keys, open);
    }
  }

  void Check(const json& schema, const json& value, const std::string& where, bool outermost) {
    const json* resolved = Resolve(document_, schema);
    if (resolved == nullptr) {
      problems_.push_back(where + ": the schema's $ref does not resolve");
      return;
    }
    const json& s = *resolved;
    if (s.contains("allOf")) {
      for (const json& part : s["allOf"]) Check(part, value, where, false);
    }
    if (value.is_null()) {
      if (s.contains("type") && !s.value("nullable", false)) {
        problems_.push_back(where + ": null, but the schema is not nullable");
      }
      return;
    }
    const std::string type = s.value("type", "");
    const bool fits =
        type.empty() || (type == "object" && value.is_object()) ||
        (type == "array" && value.is_array()) || (type == "string" && value.is_string()) ||
        (type == "integer" && value.is_number_integer()) ||
        (type == "number" && value.is_number()) || (type == "boolean" && value.is_boolean());
    if (!fits) {
      problems_.push_back(where + ": " + value.dump() + " is not of type " + type);
      return;
    }
    if (s.contains("enum") &&
        std::find(s["enum"].begin(), s["enum"].end(), value) == s["enum"].end()) {
      problems_.push_back(where + ": " + value.dump() + " is not in the enum " + s["enum"].dump());
    }
    if (value.is_number() && s.contains("minimum") && value < s["minimum"]) {
      problems_.push_back(where + ": " + value.dump() + " is below the minimum");
    }
    if (value.is_number() && s.contains("maximum") && value > s["maximum"]) {
      problems_.push_back(where + ": " + value.dump() + " is above the maximum");
    }
    if (value.is_array() && s.contains("items")) {
      for (size_t i = 0; i < value.size(); ++i) {
        Check(s["items"], value[i], where + "[" + std::to_string(i) + "]", true);
      }
    }
    if (!value.is_object()) return;
    for (const json& name : s.value("required", json::array())) {
      if (!value.contains(name.get<std::string>())) {
        problems_.push_back(where + ": the required property " + name.dump() + " is missing");
      }
    }
    const json properties = s.value("properties", json::object());
    for (const auto& [key, member] : value.items()) {
      if (properties.contains(key)) {
        Check(properties[key], member, where + "." + key, true);
      } else if (s.contains("additionalProperties") && s["additionalProperties"].is_object()) {
        Check(s["additionalProperties"], member, where + "." + key, true);
      }
    }
    if (!outermost) return;  // the schema that holds the allOf judges the undeclared properties
    std::set<std::string> declared;
    bool open = false;
    Collect(s, declared, open);
    if (open || declared.empty()) return;
    for (const auto& [key, unused] : value.items()) {
      if (!declared.contains(key)) {
        problems_.push_back(where + ": the property \"" + key + "\" is not in the schema");
      }
    }
  }

  const json& document_;
  std::vector<std::string> problems_;
};

std::string Lines(const std::vector<std::string>& problems) {
  std::string out;
  for (const std::string& problem : problems) out += "\n  " + problem;
  return out;
}

// The values the example requests below put into placeholders and required query parameters.
const std::map<std::string, std::string> kSampleValues = {
    {"port", "5432"}, {"id", "1"}, {"at", "now"}, {"remote", "10.0.0.0/8"}};

// `pattern` with its placeholders and required query parameters filled from kSampleValues, and
// parameter `name` (if given) set to `value`; a required parameter without a sample value fails
// the test, naming it.
std::string RequestTarget(const std::string& pattern, const std::vector<json>& parameters,
                          const std::string& name = "", const std::string& value = "") {
  std::string path = pattern;
  std::string query;
  for (const json& parameter : parameters) {
    const std::string key = parameter.value("name", "");
    const std::string in = parameter.value("in", "");
    if (in != "path" && in != "query") continue;
    std::string text;
    if (key == name) {
      text = value;
    } else if (!parameter.value("required", false)) {
      continue;
    } else if (kSampleValues.contains(key)) {
      text = kSampleValues.at(key);
    } else {
      ADD_FAILURE() << pattern << ": add a value for '" << key << "' to kSampleValues";
      continue;
    }
    if (in == "path") {
      path.replace(path.find("{" + key + "}"), key.size() + 2, text);
    } else {
      query += (query.empty() ? "?" : "&") + key + "=" + text;
    }
  }
  return path + query;
}

class OpenApiTest : public testing::ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    if (HasFatalFailure()) return;
    const int64_t now = NowMillis();
    // A minute's interval keeps /readyz ready however slowly the shared test machine runs.
    live_->SetInterval(std::chrono::minutes(1));
    // Two intervals of history and the same two snapshots live: every kind of socket the JSON
    // has a shape for (ports or none, an owner or none), a listener appearing in between.
    Result<store::HistoryWriter> writer = store::HistoryWriter::Create(db());
    ASSERT_TRUE(writer.ok()) << writer.error().message;
    for (const int64_t at : {now - 120'000, now - 60'000}) {
      SnapshotBuilder builder(at);
      builder.Add(Listener(1, "0.0.0.0", 5432), Proc(10, 1, "postgres"));
      builder.Add(Listener(2, "::1", 6379), Proc(11, 1, "redis-server"));
      builder.Add(Tcp(3, "10.0.0.1", 5432, "10.0.0.9", 40000, SocketState::kEstablished),
                  Proc(10, 1, "postgres"));
      builder.Add(Tcp(0, "10.0.0.1", 5432, "10.0.0.8", 40001, SocketState::kTimeWait));
      builder.Add(Udp(4, "127.0.0.53", 53), Proc(12, 1, "systemd-resolve"));
      builder.Add(Packet(5), Proc(13, 1, "dhclient"));
      builder.Add(Raw(6), Proc(14, 1, "ping"));
      if (at == now - 60'000) builder.Add(Listener(7, "0.0.0.0", 31337), Proc(15, 1, "nc"));
      collectors::Snapshot snapshot = builder.Build();
      Result<store::WriteStats> written = writer->Write(snapshot);
      ASSERT_TRUE(written.ok()) << written.error().message;
      Publish(std::move(snapshot));
    }
    const std::shared_ptr<const SnapshotView> view = live_->view();
    agent::rules::Baseline baseline;
    baseline.Learn(view->snapshot());
    live_->SetRules(
        agent::rules::RulesJson(agent::rules::RuleSet{}),
        agent::rules::BaselineJson(dir_.path() + "/baseline.yaml", "learned", baseline));
    AddAlert(db(), view->snapshot(), now);
    if (HasFatalFailure()) return;

    httplib::Result served = Get("/api/v1/openapi.json");
    ASSERT_TRUE(served);
    ASSERT_EQ(served->status, 200) << served->body;
    served_ = served->body;
    document_ = json::parse(served_, nullptr, false);
    ASSERT_FALSE(document_.is_discarded()) << "/api/v1/openapi.json is not valid JSON";

    context_.emplace(RouteContext{*live_, pool_, config_, stopping_, streams_});
    AddAllRoutes(router_, *context_);
  }

  // The notification tests' listener alert, with evidence from this snapshot, and one event of it
  // queued for a target, as the agent's alert tracker and outbox write them.
  void AddAlert(store::Database& db, const collectors::Snapshot& snapshot, int64_t now) {
    store::Alert alert = agent::notify::testing::ListenerAlert();
    alert.first_evidence.clear();
    AppendSocketJson(alert.first_evidence, snapshot, snapshot.sockets.back());
    alert.last_evidence = alert.first_evidence;
    Result<int64_t> id = store::InsertAlert(db, alert);
    ASSERT_TRUE(id.ok()) << id.error().message;
    Result<int64_t> event =
        store::InsertAlertEvent(db, {0, *id, now - 60'000, store::AlertEventKind::kOpened, ""});
    ASSERT_TRUE(event.ok()) << event.error().message;
    ASSERT_TRUE(store::EnqueueDelivery(db, *event, "ops", now - 60'000).ok());
    alert.id = *id;
    live_->PublishAlert("opened", AlertJson(alert));
  }

  const Route* FindRoute(const std::string& method, const std::string& pattern) const {
    for (const Route& route : router_.routes()) {
      if (route.method == method && route.pattern == pattern) return &route;
    }
    return nullptr;
  }

  // The documented operation; null when the document has none.
  const json* Operation(const std::string& pattern, const std::string& method) const {
    const json& paths = document_["paths"];
    if (!paths.contains(pattern) || !paths[pattern].contains(method)) return nullptr;
    return &paths[pattern][method];
  }

  // The documented answer of `status`, resolved; null when there is none.
  const json* Response(const json& operation, int status) const {
    if (!operation.contains("responses") ||
        !operation["responses"].contains(std::to_string(status))) {
      return nullptr;
    }
    return Resolve(document_, operation["responses"][std::to_string(status)]);
  }

  // The schema the document gives for an answer of `status`, as `media` (null when none).
  const json* ResponseSchema(const json& operation, int status, const std::string& media) const {
    const json* response = Response(operation, status);
    if (response == nullptr || !response->contains("content") ||
        !(*response)["content"].contains(media) ||
        !(*response)["content"][media].contains("schema")) {
      return nullptr;
    }
    return &(*response)["content"][media]["schema"];
  }

  // Checks a JSON answer against the document's schema for it; `what` names the request.
  void ExpectMatches(const json& operation, const httplib::Result& result, int status,
                     const std::string& what) {
    ASSERT_TRUE(result) << what << ": no answer";
    ASSERT_EQ(result->status, status) << what << ": " << result->body;
    const json* schema = ResponseSchema(operation, status, "application/json");
    ASSERT_NE(schema, nullptr) << what << ": the document has no application/json schema for "
                               << status;
    const json body = json::parse(result->body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << what << ": the answer is not JSON: " << result->body;
    const std::vector<std::string> problems = SchemaCheck(document_).Problems(*schema, body);
    EXPECT_TRUE(problems.empty()) << what << " answers what its documented schema does not say:"
                                  << Lines(problems);
  }

  std::string served_;
  json document_;
  // The route table, built as the server builds its own (its handlers are never called here).
  ApiConfig config_;
  DatabasePool pool_{""};
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> streams_{0};
  std::optional<RouteContext> context_;
  Router router_;
};

TEST_F(OpenApiTest, IsTheFileInTheRepositoryAndValidOpenApi3) {
  std::ifstream file(PORTWATCH_OPENAPI_FILE, std::ios::binary);
  ASSERT_TRUE(file) << "cannot read " << PORTWATCH_OPENAPI_FILE;
  std::stringstream text;
  text << file.rdbuf();
  // SendJson ends a document with one newline; the file does too.
  EXPECT_EQ(served_, text.str()) << "the served document differs from " << PORTWATCH_OPENAPI_FILE
                                 << ": the embedding in api/CMakeLists.txt changed it";
  EXPECT_TRUE(document_.value("openapi", "").starts_with("3.0."))
      << "openapi is " << document_.value("openapi", json()).dump() << ", not 3.0.x";
  EXPECT_TRUE(document_.contains("info") && document_["info"].contains("title") &&
              document_["info"].contains("version"));
  ASSERT_TRUE(document_.contains("paths") && document_["paths"].is_object());
}

TEST_F(OpenApiTest, EveryRefResolves) {
  std::vector<std::pair<std::string, std::string>> refs;
  CollectRefs(document_, "", refs);
  EXPECT_FALSE(refs.empty());
  for (const auto& [where, ref] : refs) {
    const json* target = Resolve(document_, json{{"$ref", ref}});
    EXPECT_NE(target, nullptr) << where << ": $ref " << ref
                               << " does not resolve (or loops) in api/openapi.json";
  }
}

TEST_F(OpenApiTest, DocumentsEveryRouteAndOnlyRoutes) {
  size_t checked = 0;
  for (const Route& route : router_.routes()) {
    if (!InScope(route.pattern)) continue;
    ++checked;
    const json& paths = document_["paths"];
    EXPECT_TRUE(paths.contains(route.pattern) && paths[route.pattern].contains(Lower(route.method)))
        << route.method << " " << route.pattern
        << " is a route but has no operation in api/openapi.json";
  }
  EXPECT_GT(checked, 20u) << "the route table looks empty";
  for (const auto& [pattern, item] : document_["paths"].items()) {
    for (const char* method : kOperations) {
      if (!item.contains(method)) continue;
      EXPECT_TRUE(InScope(pattern)) << pattern << " is documented but outside /api, /metrics, "
                                    << "/healthz and /readyz";
      EXPECT_NE(FindRoute(Upper(method), pattern), nullptr)
          << Upper(method) << " " << pattern
          << " is documented in api/openapi.json but is not a route (see api/routes/*.cpp)";
    }
  }
}

TEST_F(OpenApiTest, DocumentsTheQueryAndPathParametersEachRouteTakes) {
  for (const Route& route : router_.routes()) {
    if (!InScope(route.pattern)) continue;
    const std::string name = route.method + " " + route.pattern;
    const json& item = document_["paths"].value(route.pattern, json::object());
    if (!item.contains(Lower(route.method))) continue;  // reported by DocumentsEveryRoute...
    const json& operation = item[Lower(route.method)];
    const std::vector<json> parameters = Parameters(document_, item, operation);

    const std::set<std::string> taken(route.parameters.begin(), route.parameters.end());
    const std::set<std::string> documented = NamesIn(parameters, "query");
    std::set<std::string> missing, extra;
    std::set_difference(taken.begin(), taken.end(), documented.begin(), documented.end(),
                        std::inserter(missing, missing.end()));
    std::set_difference(documented.begin(), documented.end(), taken.begin(), taken.end(),
                        std::inserter(extra, extra.end()));
    EXPECT_TRUE(missing.empty()) << name << ": takes the query parameters " << Join(missing)
                                 << " that api/openapi.json does not document";
    EXPECT_TRUE(extra.empty()) << name << ": api/openapi.json documents the query parameters "
                               << Join(extra) << " that the route does not take (a 400)";

    const std::vector<std::string> placeholders = Placeholders(route.pattern);
    const std::set<std::string> wanted(placeholders.begin(), placeholders.end());
    EXPECT_EQ(NamesIn(parameters, "path"), wanted)
        << name << ": its path parameters are " << Join(wanted) << " but api/openapi.json "
        << "documents " << Join(NamesIn(parameters, "path"));
    for (const json& parameter : parameters) {
      EXPECT_TRUE(parameter.contains("schema"))
          << name << ": parameter " << parameter.value("name", "?") << " has no schema";
      EXPECT_FALSE(parameter.value("description", "").empty())
          << name << ": parameter " << parameter.value("name", "?") << " has no description";
      if (parameter.value("in", "") == "path") {
        EXPECT_TRUE(parameter.value("required", false))
            << name << ": path parameter " << parameter.value("name", "?")
            << " must say required: true";
      }
    }
  }
}

TEST_F(OpenApiTest, DeclaresTheSecurityEachRouteWants) {
  const json global = document_.value("security", json::array());
  const json& schemes = document_["components"]["securitySchemes"];
  const auto is_bearer = [&](const json& requirement) {
    if (requirement.size() != 1) return false;
    const std::string scheme = requirement.begin().key();
    return schemes.contains(scheme) && schemes[scheme].value("type", "") == "http" &&
           schemes[scheme].value("scheme", "") == "bearer";
  };
  for (const Route& route : router_.routes()) {
    if (!InScope(route.pattern)) continue;
    const std::string name = route.method + " " + route.pattern;
    const json& item = document_["paths"].value(route.pattern, json::object());
    if (!item.contains(Lower(route.method))) continue;
    const json& operation = item[Lower(route.method)];
    const json security = operation.value("security", global);
    const auto bearer = std::count_if(security.begin(), security.end(), is_bearer);
    const auto anonymous =
        std::count_if(security.begin(), security.end(), [](const json& r) { return r.empty(); });
    const bool documents_401 = Response(operation, 401) != nullptr;
    switch (route.access) {
      case Access::kToken:
        EXPECT_TRUE(bearer == 1 && security.size() == 1)
            << name << " needs the token, but its security in api/openapi.json is "
            << security.dump();
        EXPECT_TRUE(documents_401) << name << " needs the token but documents no 401";
        break;
      case Access::kPublic:
        EXPECT_TRUE(security.empty())
            << name << " needs no token, but its security in api/openapi.json is "
            << security.dump() << " (want [])";
        EXPECT_FALSE(documents_401) << name << " needs no token but documents a 401";
        break;
      case Access::kMetrics:
        EXPECT_TRUE(bearer == 1 && anonymous == 1 && security.size() == 2)
            << name << " depends on api.metrics_auth: want the bearer token or nothing, not "
            << security.dump();
        EXPECT_TRUE(documents_401) << name << " may need the token but documents no 401";
        break;
    }
  }
}

TEST_F(OpenApiTest, DescribesEveryOperationAndItsErrors) {
  for (const auto& [pattern, item] : document_["paths"].items()) {
    for (const char* method : kOperations) {
      if (!item.contains(method)) continue;
      const std::string name = Upper(method) + " " + pattern;
      const json& operation = item[method];
      EXPECT_FALSE(operation.value("summary", "").empty()) << name << " has no summary";
      EXPECT_FALSE(operation.value("description", "").empty()) << name << " has no description";
      bool success = false;
      EXPECT_TRUE(operation.contains("responses")) << name << " has no responses";
      const json responses = operation.value("responses", json::object());
      for (const auto& [status, response] : responses.items()) {
        success |= status.starts_with('2');
        if (!status.starts_with('4') && !status.starts_with('5')) continue;
        const json* schema = ResponseSchema(operation, std::stoi(status), "application/json");
        EXPECT_TRUE(schema != nullptr && schema->value("$ref", "") == "#/components/schemas/Error")
            << name << ": its " << status << " response is not the Error object";
      }
      EXPECT_TRUE(success) << name << " documents no 2xx response";
    }
  }
}

TEST_F(OpenApiTest, JsonAnswersOfEveryGetRouteMatchTheirSchemas) {
  size_t checked = 0;
  for (const auto& [pattern, item] : document_["paths"].items()) {
    if (!item.contains("get")) continue;
    const json& operation = item["get"];
    if (ResponseSchema(operation, 200, "application/json") == nullptr) continue;
    const std::string target = RequestTarget(pattern, Parameters(document_, item, operation));
    ExpectMatches(operation, Get(target), 200, "GET " + target);
    ++checked;
  }
  EXPECT_GT(checked, 15u);

  const json* sockets = Operation("/api/v1/sockets", "get");
  ASSERT_NE(sockets, nullptr);
  ExpectMatches(*sockets, Get("/api/v1/sockets?limit=0"), 400, "a limit of 0");
  ExpectMatches(*sockets, Get("/api/v1/sockets", false), 401, "no token");
}

// The values of each parameter with an enum, bounds or a boolean type: every value the document
// allows is taken, and the values just outside are a 400 that names the parameter.
TEST_F(OpenApiTest, ParametersTakeExactlyTheDocumentedValues) {
  size_t tried = 0;
  for (const auto& [pattern, item] : document_["paths"].items()) {
    if (!item.contains("get")) continue;
    if (ResponseSchema(item["get"], 200, "application/json") == nullptr) continue;
    const std::vector<json> parameters = Parameters(document_, item, item["get"]);
    for (const json& parameter : parameters) {
      const std::string name = parameter.value("name", "");
      const json* schema =
          parameter.contains("schema") ? Resolve(document_, parameter["schema"]) : nullptr;
      if (schema != nullptr && schema->value("type", "") == "array" && schema->contains("items")) {
        schema = Resolve(document_, (*schema)["items"]);  // a comma-separated list: one at a time
      }
      if (schema == nullptr) continue;
      std::vector<std::string> allowed;
      std::vector<std::string> refused;
      if (schema->contains("enum")) {
        for (const json& value : (*schema)["enum"]) allowed.push_back(value.get<std::string>());
        refused.push_back("not-a-value");
      }
      if (schema->value("type", "") == "integer") {
        for (const auto& [bound, step] : {std::pair{"minimum", -1}, std::pair{"maximum", 1}}) {
          if (!schema->contains(bound)) continue;
          const int64_t limit = (*schema)[bound].get<int64_t>();
          allowed.push_back(std::to_string(limit));
          refused.push_back(std::to_string(limit + step));
        }
        refused.push_back("12abc");
      }
      if (schema->value("type", "") == "boolean") {
        allowed = {"true", "false"};
        refused = {"maybe"};
      }
      for (const std::string& value : allowed) {
        const std::string target = RequestTarget(pattern, parameters, name, value);
        httplib::Result result = Get(target);
        ASSERT_TRUE(result) << target;
        EXPECT_NE(result->status, 400)
            << "GET " << target << ": the document allows " << name << "=" << value
            << ", the route refuses it: " << result->body;
        ++tried;
      }
      for (const std::string& value : refused) {
        const std::string target = RequestTarget(pattern, parameters, name, value);
        httplib::Result result = Get(target);
        ASSERT_TRUE(result) << target;
        EXPECT_EQ(result->status, 400) << "GET " << target << ": the document does not allow "
                                       << name << "=" << value << ", the route takes it";
        EXPECT_NE(result->body.find(name), std::string::npos)
            << "GET " << target << ": the 400 does not name " << name << ": " << result->body;
        ++tried;
      }
    }
  }
  EXPECT_GT(tried, 100u);
}

TEST_F(OpenApiTest, OperatorActionsAnswerTheDocumentedAlert) {
  const std::pair<const char*, const char*> actions[] = {
      {"/api/v1/alerts/{id}/ack", ""},
      {"/api/v1/alerts/{id}/silence", R"({"for":"2h"})"},
      {"/api/v1/alerts/{id}/accept", ""},
  };
  for (const auto& [pattern, body] : actions) {
    const json* operation = Operation(pattern, "post");
    ASSERT_NE(operation, nullptr) << pattern;
    std::string path = pattern;
    path.replace(path.find("{id}"), 4, "1");
    ExpectMatches(*operation, Post(path, body), 200, "POST " + path);
  }
  // The acceptance just made: listed, and undone.
  const json* listed = Operation("/api/v1/acceptances", "get");
  ASSERT_NE(listed, nullptr);
  ExpectMatches(*listed, Get("/api/v1/acceptances"), 200, "GET /api/v1/acceptances");
  const json* undo = Operation("/api/v1/acceptances/{id}", "delete");
  ASSERT_NE(undo, nullptr);
  ExpectMatches(*undo, Delete("/api/v1/acceptances/1"), 200, "DELETE /api/v1/acceptances/1");
  ExpectMatches(*undo, Delete("/api/v1/acceptances/1"), 404, "DELETE it again");
  const json* silence = Operation("/api/v1/alerts/{id}/silence", "post");
  ASSERT_NE(silence, nullptr);
  ExpectMatches(*silence, Post("/api/v1/alerts/1/silence", "{}"), 400, "silence without for");
}

TEST_F(OpenApiTest, EventStreamSendsTheDocumentedEvents) {
  const json* operation = Operation("/api/v1/events", "get");
  ASSERT_NE(operation, nullptr);
  const json* response = Response(*operation, 200);
  ASSERT_TRUE(response && response->contains("content") &&
              (*response)["content"].contains("text/event-stream") &&
              (*response)["content"]["text/event-stream"].contains("x-event-data"))
      << "GET /api/v1/events documents no text/event-stream with x-event-data";
  const json& data_schemas = (*response)["content"]["text/event-stream"]["x-event-data"];
  const int64_t published = live_->events().last_id();
  ASSERT_GE(published, 4) << "the fixture publishes snapshots, a listener and an alert";

  // From the first event on (Last-Event-ID 0), until every published event has arrived.
  std::string stream;
  std::string content_type;
  int64_t last_id = 0;
  client_->Get(
      "/api/v1/events",
      {{"Authorization", std::string("Bearer ") + testing::kToken}, {"Last-Event-ID", "0"}},
      [&](const httplib::Response& head) {
        content_type = head.get_header_value("Content-Type");
        return head.status == 200;
      },
      [&](const char* data, size_t length) {
        stream.append(data, length);
        const size_t id = stream.rfind("\nid: ");
        if (id != std::string::npos) last_id = std::stoll(stream.substr(id + 5));
        return last_id < published;
      });
  EXPECT_EQ(content_type, "text/event-stream");
  EXPECT_GE(last_id, published) << stream;

  SchemaCheck check(document_);
  std::istringstream lines(stream);
  std::string line, event;
  size_t events = 0;
  while (std::getline(lines, line)) {
    if (line.starts_with("event: ")) event = line.substr(7);
    if (!line.starts_with("data: ")) continue;
    ++events;
    ASSERT_TRUE(data_schemas.contains(event))
        << "the stream sends '" << event << "' events, which x-event-data does not document";
    const std::vector<std::string> problems =
        check.Problems(data_schemas[event], json::parse(line.substr(6)));
    EXPECT_TRUE(problems.empty()) << "a '" << event << "' event's data:" << Lines(problems);
  }
  EXPECT_EQ(events, static_cast<size_t>(published));
}

TEST_F(OpenApiTest, MetricsAreTheDocumentedText) {
  const json* operation = Operation("/metrics", "get");
  ASSERT_NE(operation, nullptr);
  const json* response = Response(*operation, 200);
  ASSERT_TRUE(response && response->contains("content") &&
              (*response)["content"].contains("text/plain"))
      << "GET /metrics documents no text/plain answer";
  httplib::Result result = Get("/metrics");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_TRUE(result->get_header_value("Content-Type").starts_with("text/plain; version=0.0.4"));
  EXPECT_NE(result->body.find("# TYPE portwatch_sockets gauge"), std::string::npos);
}

}  // namespace
}  // namespace portwatch::api
