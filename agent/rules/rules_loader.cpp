#include "agent/rules/rules_loader.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "agent/yaml_reader.h"
#include "collectors/time_text.h"

namespace portwatch::agent::rules {

namespace {

using collectors::AddressClass;
using collectors::Cidr;
using collectors::Direction;
using collectors::Exposure;
using collectors::PortCategory;
using collectors::Protocol;
using collectors::SocketState;

// The kernel cuts a process's name (comm) to 15 characters.
constexpr size_t kMaxProcessName = 15;

const std::set<std::string> kTopLevelKeys = {"lists", "rules", "detectors"};
const std::set<std::string> kRuleKeys = {"id",      "description", "severity", "mitre",
                                         "enabled", "when",        "except"};
const std::set<std::string> kTestKeys = {
    "protocol", "state",     "local_port", "remote_port",  "exposure", "remote",
    "local",    "direction", "category",   "remote_class", "process",  "exe",
    "package",  "sha256",    "user",       "uid",          "parent"};
const std::set<std::string> kDetectorCommonKeys = {"enabled", "severity", "mitre", "except"};

// A key of a mapping and its value, with the name messages give it ("rule 'x' when.state").
struct Field {
  YAML::Node key;
  YAML::Node value;
  std::string name;

  // Where a problem with the value is reported: a missing value has no line of its own.
  const YAML::Node& At() const { return value.IsNull() ? key : value; }
};

// One value of a list-valued field, after "$name" references are expanded.
struct Item {
  std::string text;
  YAML::Node at;       // the value, or the reference that brought it in
  std::string origin;  // " (from $name at FILE:LINE)" for a value of a named list
};

struct NamedList {
  std::vector<std::pair<std::string, std::string>> values;  // text, "FILE:LINE"
  std::string where;                                        // "FILE:LINE" of its name
};

// One rules file, read and then checked.
struct Source {
  explicit Source(const std::string& path) : problems(path), warnings(path) {}
  std::optional<YAML::Node> root;  // nullopt: it could not be read or parsed
  std::string load_error;
  Problems problems;
  Problems warnings;  // loaded anyway, but weaker than the writer may think
  RulesFileSummary summary;
};

std::string_view KindOf(const YAML::Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (node.IsNull()) return "nothing";
  return "a single value";
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

bool IsRuleId(std::string_view text) {
  if (text.empty()) return false;
  const auto allowed = [](char c, bool first) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
    return !first && (c == '.' || c == '_' || c == '-');
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (!allowed(text[i], i == 0)) return false;
  }
  return true;
}

bool IsListName(std::string_view text) {
  if (text.empty()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool word = std::isalnum(c) || c == '_';
    if (!word && (i == 0 || (c != '-' && c != '.'))) return false;
  }
  return true;
}

bool AllDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

// T1234 or T1234.001.
bool IsTechnique(std::string_view text) {
  if (text.size() != 5 && text.size() != 9) return false;
  if (text[0] != 'T' || !AllDigits(text.substr(1, 4))) return false;
  return text.size() == 5 || (text[5] == '.' && AllDigits(text.substr(6)));
}

template <typename Number>
std::optional<Number> ParseNumber(std::string_view text) {
  Number value{};
  if (!AllDigits(text)) return std::nullopt;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Result<uint16_t> ParsePort(std::string_view text) {
  constexpr std::string_view kForms = "use a number 0-65535 or a range such as 8000-8100";
  if (!AllDigits(text)) return Error{fmt::format("'{}' is not a port; {}", text, kForms)};
  const std::optional<uint32_t> port = ParseNumber<uint32_t>(text);
  if (!port || *port > 65535) {
    return Error{fmt::format("'{}' is out of range; ports are 0-65535", text)};
  }
  return static_cast<uint16_t>(*port);
}

Result<std::pair<uint16_t, uint16_t>> ParsePortRange(std::string_view text) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    Result<uint16_t> port = ParsePort(text);
    if (!port) return port.error();
    return std::pair{*port, *port};
  }
  Result<uint16_t> first = ParsePort(text.substr(0, dash));
  Result<uint16_t> last = ParsePort(text.substr(dash + 1));
  if (!first || !last) {
    return Error{fmt::format(
        "'{}' is not a port range; use two ports 0-65535 joined by '-', such as 8000-8100", text)};
  }
  if (*first > *last) {
    return Error{fmt::format("'{}' is a reversed range; write {}-{}", text, *last, *first)};
  }
  return std::pair{*first, *last};
}

Result<uint32_t> ParseUid(std::string_view text) {
  if (std::optional<uint32_t> uid = ParseNumber<uint32_t>(text)) return *uid;
  return Error{fmt::format("'{}' is not a uid; use a number such as 0 or 1000", text)};
}

Result<SocketState> ParseState(std::string_view text) {
  const SocketState state = collectors::ParseStateName(text);
  if (state != SocketState::kUnknown) return state;
  return Error{fmt::format(
      "'{}' is not a socket state; use a name such as listen, established, syn-sent, syn-recv, "
      "fin-wait-1, fin-wait-2, time-wait, close, close-wait, last-ack, closing or unconn",
      text)};
}

Result<Cidr> ParseBlock(std::string_view text) { return Cidr::Parse(text); }

// A glob over a process name: one without wildcards longer than the kernel keeps never matches.
Result<std::string> ParseProcessGlob(std::string_view text) {
  if (text.empty()) return Error{"'' is empty; give a process name or a glob such as 'nginx*'"};
  const bool wildcard = text.find_first_of("*?[") != std::string_view::npos;
  if (!wildcard && text.size() > kMaxProcessName) {
    return Error{fmt::format(
        "'{}' is longer than {} characters, and process names are cut to {}: write '{}*', or "
        "match the executable with exe",
        text, kMaxProcessName, kMaxProcessName, text.substr(0, kMaxProcessName))};
  }
  return std::string(text);
}

// A program in an allowlist: an absolute path glob ("/usr/sbin/sshd", "/usr/lib/jvm/*/bin/java"),
// or a bare file name glob ("sshd"), which any copy of a binary can carry.
Result<std::string> ParseProgram(std::string_view text) {
  if (text.empty()) return Error{"'' is empty; give an executable's path such as /usr/sbin/sshd"};
  if (text.find('/') != std::string_view::npos && text[0] != '/' && text[0] != '*') {
    return Error{
        fmt::format("'{}' is a relative path; give the executable's absolute path, as "
                    "/proc/PID/exe shows it, such as /usr/sbin/sshd",
                    text)};
  }
  return std::string(text);
}

// A SHA-256 in hex, as sha256sum prints it; kept in lower case.
Result<std::string> ParseSha256(std::string_view text) {
  const bool hex = text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
                     return std::isxdigit(static_cast<unsigned char>(c)) != 0;
                   });
  if (!hex) {
    return Error{
        fmt::format("'{}' is not a SHA-256; give the 64 hex digits sha256sum prints", text)};
  }
  return Lower(text);
}

// Where `name` is installed on this host, to suggest instead of the name: "exe: /usr/sbin/sshd".
std::string SuggestedExe(std::string_view name) {
  if (name.find_first_of("*?[") == std::string_view::npos) {
    for (const char* dir : {"/usr/sbin/", "/usr/bin/", "/usr/libexec/", "/usr/lib/"}) {
      const std::string path = std::string(dir) + std::string(name);
      std::error_code error;
      if (std::filesystem::is_regular_file(path, error)) return path;
    }
  }
  return fmt::format("/usr/sbin/{}", name);
}

Result<std::string> ParseNonEmpty(std::string_view text) {
  if (text.empty()) return Error{"'' is empty"};
  return std::string(text);
}

Result<std::string> ParseDirectory(std::string_view text) {
  if (text.empty() || text[0] != '/') {
    return Error{
        fmt::format("'{}' is not an absolute directory; use a path such as /opt/stage/", text)};
  }
  return std::string(text);
}

// Names of an enum's values, from the function that names them, in order: one table, the
// collectors', for what the user writes and what portwatch prints.
template <typename E>
struct NameTable {
  NameTable(int count, std::string_view (*name_of)(E), std::string_view what) : what_(what) {
    for (int i = 0; i < count; ++i) {
      const auto value = static_cast<E>(i);
      entries_.emplace_back(name_of(value), value);
    }
  }

  Result<E> Parse(std::string_view text) const {
    const std::string lower = Lower(text);
    for (const auto& [name, value] : entries_) {
      if (name == lower) return value;
    }
    std::vector<std::string_view> names;
    for (const auto& entry : entries_) names.push_back(entry.first);
    return Error{fmt::format("'{}' is not {}; use one of {}", text, what_, fmt::join(names, ", "))};
  }

 private:
  std::vector<std::pair<std::string_view, E>> entries_;
  std::string_view what_;
};

const NameTable<Protocol> kProtocols(4, collectors::ProtocolName, "a protocol");
const NameTable<Exposure> kExposures(4, collectors::ExposureName, "an exposure");
const NameTable<Direction> kDirections(5, collectors::DirectionName, "a direction");
const NameTable<PortCategory> kCategories(3, collectors::PortCategoryName, "a port category");
const NameTable<AddressClass> kAddressClasses(5, collectors::AddressClassName, "an address class");

// Reads the files into a RuleSet, reporting into each file's Problems.
class Loader {
 public:
  explicit Loader(const std::vector<std::string>& paths) {
    sources_.reserve(paths.size());
    for (const std::string& path : paths) sources_.emplace_back(path);
  }

  Result<LoadedRules> Load() {
    // 1. Read and parse every file.
    for (Source& source : sources_) Read(source);
    // 2. Collect the named lists of every file: a file may use a list that a later one defines.
    for (Source& source : sources_) CollectLists(source);
    // 3. Check each file from the top, in order: rule ids and detector settings depend on it.
    for (Source& source : sources_) {
      source_ = &source;
      Check(source);
      source.problems.SortByLine();
      source.warnings.SortByLine();
    }
    std::vector<std::string> problems;
    LoadedRules loaded;
    for (const Source& source : sources_) {
      if (!source.load_error.empty()) problems.push_back(source.load_error);
      problems.insert(problems.end(), source.problems.lines().begin(),
                      source.problems.lines().end());
      loaded.warnings.insert(loaded.warnings.end(), source.warnings.lines().begin(),
                             source.warnings.lines().end());
      loaded.files.push_back(source.summary);
      loaded.rule_set.files.push_back(source.summary.path);
    }
    if (!problems.empty()) return Error{fmt::format("{}", fmt::join(problems, "\n"))};
    loaded.rule_set.rules = std::move(rules_);
    loaded.rule_set.detectors = std::move(detectors_);
    return loaded;
  }

 private:
  static void Read(Source& source) {
    const std::string& path = source.problems.file();
    source.summary.path = path;
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
      source.load_error =
          fmt::format("cannot read rules file {}: it is a directory; give the files in it", path);
      return;
    }
    Result<YAML::Node> loaded = LoadYamlFile(path, "rules file");
    if (!loaded) {
      source.load_error = loaded.error().message;
      return;
    }
    source.root.emplace(*loaded);
  }

  // The values of every well-formed list, so that references resolve whatever the file order;
  // the problems are reported when the file is checked.
  void CollectLists(const Source& source) {
    if (!source.root || !source.root->IsMap()) return;
    for (const auto& section : *source.root) {
      if (section.first.Scalar() != "lists" || !section.second.IsMap()) continue;
      for (const auto& entry : section.second) {
        const std::string name = entry.first.Scalar();
        if (!IsListName(name) || lists_.contains(name)) continue;
        NamedList list;
        list.where = source.problems.Where(entry.first);
        const auto add = [&](const YAML::Node& value) {
          if (value.IsScalar()) {
            list.values.emplace_back(value.Scalar(), source.problems.Where(value));
          }
        };
        if (entry.second.IsSequence()) {
          for (const auto& value : entry.second) add(value);
        } else {
          add(entry.second);
        }
        lists_.emplace(name, std::move(list));
      }
    }
  }

  void Check(Source& source) {
    if (!source.root || source.root->IsNull()) return;  // unreadable, or empty: fine
    const YAML::Node& root = *source.root;
    if (!root.IsMap()) {
      problems().Add(root, fmt::format("expected a mapping with the keys {}, not {}",
                                       fmt::join(kTopLevelKeys, ", "), KindOf(root)));
      return;
    }
    CheckKeys(root, "", kTopLevelKeys, problems());
    CheckDuplicateKeys(root, "", problems());
    for (const auto& entry : root) {
      const std::string key = entry.first.Scalar();
      const Field field{entry.first, entry.second, key};
      if (key == "lists") {
        CheckLists(field, source.summary);
      } else if (key == "rules") {
        ReadRules(field, source.summary);
      } else if (key == "detectors") {
        ReadDetectors(field);
      }
    }
  }

  Problems& problems() { return source_->problems; }

  // --- Values -----------------------------------------------------------------------------

  // The text of a single value.
  std::optional<std::string> Text(const Field& field, std::string_view expected) {
    if (!field.value.IsScalar()) {
      problems().Add(field.At(), fmt::format("{}: expected {}, not {}", field.name, expected,
                                             KindOf(field.value)));
      return std::nullopt;
    }
    return field.value.Scalar();
  }

  // A required, non-empty text.
  std::optional<std::string> NonEmptyText(const Field& field, std::string_view expected) {
    std::optional<std::string> text = Text(field, expected);
    if (text && text->empty()) {
      problems().Add(field.At(), fmt::format("{}: is empty; expected {}", field.name, expected));
      return std::nullopt;
    }
    return text;
  }

  std::optional<bool> Bool(const Field& field) {
    std::optional<std::string> text = Text(field, "true or false");
    if (!text) return std::nullopt;
    bool value = false;
    if (!YAML::convert<bool>::decode(field.value, value)) {
      problems().Add(field.At(), fmt::format("{}: '{}' is not true or false", field.name, *text));
      return std::nullopt;
    }
    return value;
  }

  std::optional<Severity> ReadSeverity(const Field& field) {
    std::optional<std::string> text = Text(field, "a severity: info, low, medium, high, critical");
    if (!text) return std::nullopt;
    std::optional<Severity> severity = ParseSeverity(*text);
    if (!severity) {
      problems().Add(field.At(), fmt::format("{}: '{}' is not a severity; use one of info, low, "
                                             "medium, high, critical",
                                             field.name, *text));
    }
    return severity;
  }

  std::optional<std::string> ReadTechnique(const Field& field) {
    std::optional<std::string> text = Text(field, "an ATT&CK technique such as T1571");
    if (!text) return std::nullopt;
    if (!text->empty() && !IsTechnique(*text)) {
      problems().Add(field.At(), fmt::format("{}: '{}' is not an ATT&CK technique id; use the form "
                                             "T1234 or T1234.001",
                                             field.name, *text));
      return std::nullopt;
    }
    return text;
  }

  std::optional<int> PositiveInt(const Field& field) {
    std::optional<std::string> text = Text(field, "a whole number above 0");
    if (!text) return std::nullopt;
    std::optional<int> number = ParseNumber<int>(*text);
    if (!number || *number <= 0) {
      problems().Add(field.At(),
                     fmt::format("{}: '{}' is not a whole number above 0", field.name, *text));
      return std::nullopt;
    }
    return number;
  }

  // The values of a list-valued field: a single value or a list of them, "$name" expanded.
  // `empty_hint` says what an empty list would mean to someone who wrote one.
  std::vector<Item> Items(const Field& field, std::string_view empty_hint) {
    if (field.value.IsNull() || field.value.IsMap()) {
      problems().Add(field.At(), fmt::format("{}: expected a value or a list of values, not {}",
                                             field.name, KindOf(field.value)));
      return {};
    }
    std::vector<YAML::Node> nodes;
    if (field.value.IsScalar()) {
      nodes.push_back(field.value);
    } else {
      for (const auto& node : field.value) nodes.push_back(node);
    }
    const size_t problems_before = problems().size();
    std::vector<Item> items;
    for (const YAML::Node& node : nodes) {
      if (!node.IsScalar()) {
        problems().Add(node.IsNull() ? field.At() : node,
                       fmt::format("{}: expected single values in the list, not {}", field.name,
                                   KindOf(node)));
        continue;
      }
      const std::string& text = node.Scalar();
      if (text.empty() || text[0] != '$') {
        items.push_back({text, node, ""});
        continue;
      }
      const auto list = lists_.find(text.substr(1));
      if (list == lists_.end()) {
        problems().Add(node, fmt::format("{}: '{}' is not a defined list; {}", field.name, text,
                                         DefinedLists()));
        continue;
      }
      for (const auto& [value, where] : list->second.values) {
        items.push_back({value, node, fmt::format(" (from {} at {})", text, where)});
      }
    }
    if (items.empty() && problems().size() == problems_before) {
      problems().Add(field.At(), fmt::format("{}: the list is empty; {}", field.name, empty_hint));
    }
    return items;
  }

  std::string DefinedLists() const {
    if (lists_.empty()) return "no lists are defined (define them under 'lists:')";
    std::vector<std::string_view> names;
    for (const auto& entry : lists_) names.push_back(entry.first);
    return fmt::format("the lists defined are {}", fmt::join(names, ", "));
  }

  // Each value of a list-valued field parsed by `parse`; every bad value is reported.
  // `check`, when given, sees each good value (to warn about it).
  template <typename T>
  std::vector<T> Each(const Field& field, std::string_view empty_hint,
                      const std::function<Result<T>(std::string_view)>& parse,
                      const std::function<void(const Item&, const T&)>& check = {}) {
    std::vector<T> values;
    for (const Item& item : Items(field, empty_hint)) {
      Result<T> value = parse(item.text);
      if (value) {
        if (check) check(item, *value);
        values.push_back(std::move(*value));
      } else {
        problems().Add(item.at,
                       fmt::format("{}: {}{}", field.name, value.error().message, item.origin));
      }
    }
    return values;
  }

  PortSet Ports(const Field& field, std::string_view empty_hint) {
    PortSet ports;
    ports.ranges = Each<std::pair<uint16_t, uint16_t>>(field, empty_hint, ParsePortRange);
    return ports;
  }

  // --- lists: -----------------------------------------------------------------------------

  void CheckLists(const Field& field, RulesFileSummary& summary) {
    if (field.value.IsNull()) return;
    if (!field.value.IsMap()) {
      problems().Add(field.At(), fmt::format("lists: expected a mapping of names to lists, such as "
                                             "{{db_ports: [3306, 5432]}}, not {}",
                                             KindOf(field.value)));
      return;
    }
    CheckDuplicateKeys(field.value, "lists", problems());
    for (const auto& entry : field.value) {
      const std::string name = entry.first.Scalar();
      const Field list{entry.first, entry.second, "lists." + name};
      if (!IsListName(name)) {
        problems().Add(entry.first, fmt::format("lists: '{}' is not a list name; use letters, "
                                                "digits, '_', and '-' or '.' after the first",
                                                name));
        continue;
      }
      const std::string where = problems().Where(entry.first);
      const auto defined = lists_.find(name);
      if (defined != lists_.end() && defined->second.where != where) {
        if (defined->second.where.starts_with(problems().file() + ":") &&
            CountsAsDuplicateKey(field.value, name)) {
          continue;  // CheckDuplicateKeys said so
        }
        problems().Add(entry.first,
                       fmt::format("{}: the list '{}' is already defined at {}; define each list "
                                   "once across the rules files",
                                   list.name, name, defined->second.where));
        continue;
      }
      ++summary.lists;
      if (list.value.IsNull() || list.value.IsMap()) {
        problems().Add(list.At(), fmt::format("{}: expected a list of values such as [22, 80], not "
                                              "{}",
                                              list.name, KindOf(list.value)));
        continue;
      }
      std::vector<YAML::Node> values;
      if (list.value.IsScalar()) {
        values.push_back(list.value);
      } else {
        for (const auto& value : list.value) values.push_back(value);
      }
      for (const YAML::Node& value : values) {
        if (!value.IsScalar()) {
          problems().Add(value.IsNull() ? list.At() : value,
                         fmt::format("{}: expected single values in the list, not {}", list.name,
                                     KindOf(value)));
        } else if (value.Scalar().starts_with("$")) {
          problems().Add(value, fmt::format("{}: '{}': a list may not use another list; write "
                                            "its values here",
                                            list.name, value.Scalar()));
        }
      }
    }
  }

  // Whether `name` appears more than once in this `lists:` mapping (a duplicate key).
  static bool CountsAsDuplicateKey(const YAML::Node& map, const std::string& name) {
    int count = 0;
    for (const auto& entry : map) count += entry.first.Scalar() == name ? 1 : 0;
    return count > 1;
  }

  // --- rules: -----------------------------------------------------------------------------

  void ReadRules(const Field& field, RulesFileSummary& summary) {
    if (field.value.IsNull()) return;
    if (!field.value.IsSequence()) {
      problems().Add(field.At(), fmt::format("rules: expected a list of rules, each starting with "
                                             "'- id:', not {}",
                                             KindOf(field.value)));
      return;
    }
    size_t number = 0;
    for (const auto& node : field.value) {
      ++number;
      if (std::optional<Rule> rule = ReadRule(node, number)) {
        rules_.push_back(std::move(*rule));
        ++summary.rules;
      }
    }
  }

  std::optional<Rule> ReadRule(const YAML::Node& node, size_t number) {
    if (!node.IsMap()) {
      problems().Add(node, fmt::format("rules: entry {} is {}; expected a rule, a mapping with id, "
                                       "description, severity and when",
                                       number, KindOf(node)));
      return std::nullopt;
    }
    Rule rule;
    rule.source = problems().Where(node);
    std::string label = fmt::format("rule #{}", number);
    std::optional<Field> id_field;
    for (const auto& entry : node) {
      if (entry.first.Scalar() == "id" && !id_field) {
        id_field.emplace(Field{entry.first, entry.second, label + " id"});
      }
    }
    if (id_field) {
      if (std::optional<std::string> id = Text(*id_field, "a rule id such as db-exposed")) {
        label = fmt::format("rule '{}'", *id);
        if (IsRuleId(*id)) {
          rule.id = *id;
          const auto [used, inserted] = rule_ids_.emplace(rule.id, rule.source);
          if (!inserted) {
            problems().Add(id_field->At(),
                           fmt::format("{}: the id '{}' is already used by the rule at {}; rule "
                                       "ids must be unique across the rules files",
                                       label, rule.id, used->second));
          }
        } else {
          problems().Add(id_field->At(),
                         fmt::format("{}: '{}' is not a rule id; use lowercase letters, digits, "
                                     "'.', '_' and '-', starting with a letter or digit",
                                     label, *id));
        }
      }
    } else {
      problems().Add(
          node, fmt::format("{}: missing 'id'; give each rule an id such as db-exposed", label));
    }
    CheckKeys(node, label, kRuleKeys, problems());
    CheckDuplicateKeys(node, label, problems());

    bool has_description = false;
    bool has_severity = false;
    bool has_when = false;
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      const Field field{entry.first, entry.second, label + " " + key};
      if (key == "description") {
        has_description = true;
        if (auto text = NonEmptyText(field, "a sentence saying what the rule finds")) {
          rule.description = *text;
        }
      } else if (key == "severity") {
        has_severity = true;
        if (auto severity = ReadSeverity(field)) rule.severity = *severity;
      } else if (key == "mitre") {
        if (auto technique = ReadTechnique(field)) rule.mitre = *technique;
      } else if (key == "enabled") {
        if (auto enabled = Bool(field)) rule.enabled = *enabled;
      } else if (key == "when") {
        has_when = true;
        rule.condition = ReadCondition(field);
      } else if (key == "except") {
        ReadExceptions(field, rule.exceptions);
      }
    }
    const auto require = [&](bool present, std::string_view key, std::string_view what) {
      if (!present) problems().Add(node, fmt::format("{}: missing '{}'; {}", label, key, what));
    };
    require(has_description, "description", "say in a sentence what the rule finds");
    require(has_severity, "severity", "give one of info, low, medium, high, critical");
    require(has_when, "when",
            "give the condition a socket must match, such as {protocol: tcp, local_port: 4444}");

    return rule;
  }

  // --- Conditions -------------------------------------------------------------------------

  Condition ReadCondition(const Field& field) {
    Condition condition;
    condition.source = problems().Where(field.At());
    if (field.value.IsNull() || (field.value.IsMap() && field.value.size() == 0)) {
      problems().Add(field.At(), fmt::format("{}: tests nothing; give at least one of {}",
                                             field.name, fmt::join(kTestKeys, ", ")));
      return condition;
    }
    if (!field.value.IsMap()) {
      problems().Add(field.At(), fmt::format("{}: expected a mapping of tests such as "
                                             "{{protocol: tcp, local_port: 22}}, not {}",
                                             field.name, KindOf(field.value)));
      return condition;
    }
    CheckKeys(field.value, field.name, kTestKeys, problems());
    CheckDuplicateKeys(field.value, field.name, problems());
    for (const auto& entry : field.value) {
      const std::string key = entry.first.Scalar();
      ReadTest(Field{entry.first, entry.second, field.name + "." + key}, key, condition);
    }
    return condition;
  }

  void ReadTest(const Field& field, const std::string& key, Condition& condition) {
    constexpr std::string_view kHint = "leave the key out to match anything";
    if (key == "protocol") {
      condition.protocols =
          Each<Protocol>(field, kHint, [](auto text) { return kProtocols.Parse(text); });
    } else if (key == "state") {
      condition.states = Each<SocketState>(field, kHint, ParseState);
    } else if (key == "local_port") {
      condition.local_ports = Ports(field, kHint);
    } else if (key == "remote_port") {
      condition.remote_ports = Ports(field, kHint);
    } else if (key == "exposure") {
      condition.exposures =
          Each<Exposure>(field, kHint, [](auto text) { return kExposures.Parse(text); });
    } else if (key == "remote") {
      condition.remote_networks = Each<Cidr>(field, kHint, ParseBlock);
    } else if (key == "local") {
      condition.local_networks = Each<Cidr>(field, kHint, ParseBlock);
    } else if (key == "direction") {
      condition.directions =
          Each<Direction>(field, kHint, [](auto text) { return kDirections.Parse(text); });
    } else if (key == "category") {
      condition.categories =
          Each<PortCategory>(field, kHint, [](auto text) { return kCategories.Parse(text); });
    } else if (key == "remote_class") {
      condition.remote_classes =
          Each<AddressClass>(field, kHint, [](auto text) { return kAddressClasses.Parse(text); });
    } else if (key == "process") {
      condition.process_names =
          Each<std::string>(field, kHint, ParseProcessGlob, NameWarning(field));
    } else if (key == "exe") {
      condition.exe_paths = Each<std::string>(field, kHint, ParseProgram);
    } else if (key == "package") {
      condition.packages = Each<std::string>(field, kHint, ParseNonEmpty);
    } else if (key == "sha256") {
      condition.sha256s = Each<std::string>(field, kHint, ParseSha256);
    } else if (key == "user") {
      condition.users = Each<std::string>(field, kHint, ParseNonEmpty);
    } else if (key == "uid") {
      condition.uids = Each<uint32_t>(field, kHint, ParseUid);
    } else if (key == "parent") {
      condition.parents = Each<std::string>(field, kHint, ParseProcessGlob);
    }
  }

  // Warns that a process name (comm) is the process's own say: prctl(PR_SET_NAME) or a copy of
  // any binary under that name passes.
  std::function<void(const Item&, const std::string&)> NameWarning(const Field& field) {
    return [this, name = field.name](const Item& item, const std::string& value) {
      source_->warnings.Add(
          item.at, fmt::format("{}: '{}' matches the name a process gives itself, which any "
                               "process can take (prctl PR_SET_NAME, or a copy of a binary so "
                               "named); match what it is instead: exe: {} (or package:, sha256:)"
                               "{}",
                               name, value, SuggestedExe(value), item.origin));
    };
  }

  // Warns that a bare program name in an allowlist passes any executable of that file name.
  std::function<void(const Item&, const std::string&)> BareProgramWarning(const Field& field) {
    return [this, name = field.name](const Item& item, const std::string& value) {
      if (!IsBareProgramName(value)) return;
      source_->warnings.Add(
          item.at, fmt::format("{}: '{}' is a name, and any copy of a binary so named passes "
                               "(/tmp/x/{}); give the executable's path instead, such as {}{}",
                               name, value, value, SuggestedExe(value), item.origin));
    };
  }

  // `except`: one condition, or a list of them.
  void ReadExceptions(const Field& field, std::vector<Condition>& exceptions) {
    if (field.value.IsMap()) {
      exceptions.push_back(ReadCondition(field));
      return;
    }
    if (!field.value.IsSequence()) {
      problems().Add(field.At(), fmt::format("{}: expected a condition or a list of conditions, "
                                             "such as [{{process: sshd}}], not {}",
                                             field.name, KindOf(field.value)));
      return;
    }
    for (const auto& entry : field.value) {
      const YAML::Node& node = entry;
      // A missing item has no line of its own: report it at `except`.
      exceptions.push_back(
          ReadCondition(Field{node.IsNull() ? field.key : node, node, field.name}));
    }
  }

  // --- detectors: -------------------------------------------------------------------------

  struct DetectorSpec {
    DetectorSettings DetectorsConfig::*settings;
    std::set<std::string> own_keys;
  };

  static const std::map<std::string, DetectorSpec>& Detectors() {
    static const std::map<std::string, DetectorSpec> kDetectors = {
        {"unexpected_listener", {&DetectorsConfig::unexpected_listener, {"udp_settle"}}},
        {"dynamic_range_listener",
         {&DetectorsConfig::dynamic_range_listener, {"udp", "udp_settle"}}},
        {"service_owner", {&DetectorsConfig::service_owner, {"owners"}}},
        {"sensitive_exposed", {&DetectorsConfig::sensitive_exposed, {"ports"}}},
        {"backdoor_port", {&DetectorsConfig::backdoor_port, {"ports"}}},
        {"suspicious_exe", {&DetectorsConfig::suspicious_exe, {"dirs"}}},
        {"raw_socket", {&DetectorsConfig::raw_socket, {"programs"}}},
        {"fan_out", {&DetectorsConfig::fan_out, {"ports", "hosts", "window"}}},
        {"syn_flood", {&DetectorsConfig::syn_flood, {"syn_recv"}}},
        {"privileged_port", {&DetectorsConfig::privileged_port, {}}},
        {"new_outbound", {&DetectorsConfig::new_outbound, {}}},
    };
    return kDetectors;
  }

  void ReadDetectors(const Field& field) {
    if (field.value.IsNull()) return;
    std::set<std::string> names;
    for (const auto& entry : Detectors()) names.insert(entry.first);
    if (!field.value.IsMap()) {
      problems().Add(field.At(), fmt::format("detectors: expected a mapping of detector names to "
                                             "settings, such as {{fan_out: {{window: 60s}}}}, not "
                                             "{}",
                                             KindOf(field.value)));
      return;
    }
    CheckKeys(field.value, "detectors", names, problems());
    CheckDuplicateKeys(field.value, "detectors", problems());
    for (const auto& entry : field.value) {
      const std::string name = entry.first.Scalar();
      const auto spec = Detectors().find(name);
      if (spec == Detectors().end()) continue;  // CheckKeys said so
      ReadDetector(Field{entry.first, entry.second, "detectors." + name}, name, spec->second);
    }
  }

  void ReadDetector(const Field& field, const std::string& name, const DetectorSpec& spec) {
    if (!field.value.IsMap()) {
      problems().Add(field.At(), fmt::format("{}: expected a mapping of settings such as "
                                             "{{enabled: false}}, not {}",
                                             field.name, KindOf(field.value)));
      return;
    }
    std::set<std::string> known = kDetectorCommonKeys;
    known.insert(spec.own_keys.begin(), spec.own_keys.end());
    CheckKeys(field.value, field.name, known, problems());
    CheckDuplicateKeys(field.value, field.name, problems());
    DetectorSettings& settings = detectors_.*spec.settings;
    for (const auto& entry : field.value) {
      const std::string key = entry.first.Scalar();
      const Field setting{entry.first, entry.second, field.name + "." + key};
      if (key == "enabled") {
        if (auto enabled = Bool(setting)) settings.enabled = *enabled;
      } else if (key == "severity") {
        if (auto severity = ReadSeverity(setting)) settings.severity = *severity;
      } else if (key == "mitre") {
        if (auto technique = ReadTechnique(setting)) settings.mitre = *technique;
      } else if (key == "except") {
        ReadExceptions(setting, settings.exceptions);
      } else if (spec.own_keys.contains(key)) {
        ReadDetectorSetting(setting, name, key);
      }
    }
  }

  // A detector's own setting: `name` is the detector, `key` the setting.
  void ReadDetectorSetting(const Field& field, const std::string& name, const std::string& key) {
    constexpr std::string_view kAdds = "it adds nothing (the built-in values stay)";
    DetectorsConfig& d = detectors_;
    if (key == "udp_settle") {
      if (auto settle = Duration(field, /*zero_ok=*/true)) {
        (name == "unexpected_listener" ? d.unexpected_listener_udp_settle
                                       : d.dynamic_range_udp_settle) = *settle;
      }
    } else if (name == "dynamic_range_listener") {
      if (auto udp = Bool(field)) d.dynamic_range_udp = *udp;
    } else if (name == "service_owner") {
      ReadServiceOwners(field);
    } else if (name == "sensitive_exposed" || name == "backdoor_port") {
      PortSet& ports = name == "sensitive_exposed" ? d.sensitive_ports : d.backdoor_ports;
      const PortSet added = Ports(field, kAdds);
      ports.ranges.insert(ports.ranges.end(), added.ranges.begin(), added.ranges.end());
    } else if (name == "suspicious_exe") {
      AddNew(d.suspicious_dirs, Each<std::string>(field, kAdds, ParseDirectory));
    } else if (name == "raw_socket") {
      AddNew(d.raw_socket_programs,
             Each<std::string>(field, kAdds, ParseProgram, BareProgramWarning(field)));
    } else if (name == "fan_out" && key == "ports") {
      if (auto ports = PositiveInt(field)) d.fan_out_ports = *ports;
    } else if (name == "fan_out" && key == "hosts") {
      if (auto hosts = PositiveInt(field)) d.fan_out_hosts = *hosts;
    } else if (name == "fan_out" && key == "window") {
      if (auto window = Duration(field, /*zero_ok=*/false)) d.fan_out_window = *window;
    } else if (name == "syn_flood") {
      if (auto threshold = PositiveInt(field)) d.syn_recv_threshold = *threshold;
    }
  }

  // A duration such as 60s; `zero_ok`: 0 is allowed.
  std::optional<std::chrono::milliseconds> Duration(const Field& field, bool zero_ok) {
    const std::optional<std::string> text = Text(field, "a duration such as 60s or 5m");
    if (!text) return std::nullopt;
    Result<int64_t> duration = collectors::ParseDuration(*text);
    if (!duration) {
      problems().Add(field.At(), fmt::format("{}: {}", field.name, duration.error().message));
      return std::nullopt;
    }
    if (*duration < 0 || (*duration == 0 && !zero_ok)) {
      problems().Add(field.At(), fmt::format("{}: '{}' is not a window; give a duration above "
                                             "0 such as 60s",
                                             field.name, *text));
      return std::nullopt;
    }
    return std::chrono::milliseconds(*duration);
  }

  // owners: {PORT: [program globs]}; a port given replaces its built-in list.
  void ReadServiceOwners(const Field& field) {
    if (!field.value.IsMap()) {
      problems().Add(field.At(), fmt::format("{}: expected a mapping of ports to programs, such as "
                                             "{{\"22\": [sshd]}}, not {}",
                                             field.name, KindOf(field.value)));
      return;
    }
    CheckDuplicateKeys(field.value, field.name, problems());
    for (const auto& entry : field.value) {
      const std::string port_text = entry.first.Scalar();
      const Field programs{entry.first, entry.second, fmt::format("{}.{}", field.name, port_text)};
      Result<uint16_t> port = ParsePort(port_text);
      if (!port) {
        problems().Add(entry.first, fmt::format("{}: '{}' is not a port; give the programs of one "
                                                "port, 0-65535, at a time",
                                                field.name, port_text));
        continue;
      }
      std::vector<std::string> globs =
          Each<std::string>(programs, "give the programs allowed to hold the port", ParseProgram,
                            BareProgramWarning(programs));
      if (!globs.empty()) detectors_.service_owners[*port] = std::move(globs);
    }
  }

  static void AddNew(std::vector<std::string>& to, const std::vector<std::string>& values) {
    for (const std::string& value : values) {
      if (std::find(to.begin(), to.end(), value) == to.end()) to.push_back(value);
    }
  }

  std::vector<Source> sources_;
  Source* source_ = nullptr;  // the file being checked
  std::map<std::string, NamedList> lists_;
  std::map<std::string, std::string> rule_ids_;  // id -> "FILE:LINE" of its rule
  std::vector<Rule> rules_;
  DetectorsConfig detectors_ = DefaultDetectors();
};

}  // namespace

Result<LoadedRules> LoadRulesWithSummary(const std::vector<std::string>& paths) {
  return Loader(paths).Load();
}

Result<std::vector<std::string>> ExpandRulePaths(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (!std::filesystem::is_directory(path, error)) {
      files.push_back(path);  // a missing file is reported by the loader, with its name
      continue;
    }
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
      const std::string extension = entry.path().extension().string();
      if (entry.is_regular_file() && (extension == ".yaml" || extension == ".yml")) {
        found.push_back(entry.path().string());
      }
    }
    if (error)
      return Error{fmt::format("cannot list rules directory {}: {}", path, error.message())};
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

Result<RuleSet> LoadRules(const std::vector<std::string>& paths) {
  Result<LoadedRules> loaded = LoadRulesWithSummary(paths);
  if (!loaded) return loaded.error();
  return std::move(loaded->rule_set);
}

}  // namespace portwatch::agent::rules
