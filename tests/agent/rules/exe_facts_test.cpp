// ExeFacts and the sha256: and package: conditions, against real processes running copies of a
// binary and a dpkg database written by the test (and the host's own, where there is one).

#include "agent/rules/exe_facts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/rules/engine.h"
#include "agent/rules/rules_loader.h"
#include "collectors/collector.h"
#include "tests/support/namespaces.h"
#include "tests/support/sockets.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace portwatch::agent::rules {
namespace {

using portwatch::testing::ChildProcess;
using portwatch::testing::RunCommand;
using portwatch::testing::TempDir;

// The first word of a command's output: the digest sha256sum or md5sum prints.
std::string Digest(const std::string& tool, const std::string& path) {
  const portwatch::testing::CommandResult result = RunCommand({tool, path});
  EXPECT_EQ(result.exit_code, 0) << portwatch::testing::Describe(result);
  return result.out.substr(0, result.out.find(' '));
}

std::string CopyOf(const std::string& from, const std::string& to) {
  std::filesystem::create_directories(std::filesystem::path(to).parent_path());
  std::filesystem::copy_file(from, to);
  std::filesystem::permissions(to, std::filesystem::perms::owner_all);
  return to;
}

// What the collector knows of a process: its pid and exe; the file identity left zero, as on a
// branch where the collector does not fill it in.
collectors::Process Running(const ChildProcess& child, const std::string& exe) {
  collectors::Process process;
  process.pid = child.pid();
  process.exe = exe;
  return process;
}

class ExeFactsTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChildProcess> Run(const std::string& program) {
    return ChildProcess::Exec({program, "1000"}, {});
  }

  // A dpkg info directory holding one package that lists `path`, with `md5` recorded for it
  // (none: no md5sums file).
  void Install(const std::string& package, const std::string& path,
               const std::optional<std::string>& md5) {
    dir_.WriteFile("dpkg/" + package + ".list", "/.\n/usr\n" + path + "\n");
    if (md5) dir_.WriteFile("dpkg/" + package + ".md5sums", *md5 + "  " + path.substr(1) + "\n");
  }

  ExeFacts FakeDpkg() { return ExeFacts({.proc = "/proc", .dpkg_info = dir_.path() + "/dpkg"}); }

  TempDir dir_;
};

TEST_F(ExeFactsTest, HashesTheFileAProcessRunsOncePerFile) {
  const std::string copy = CopyOf("/usr/bin/sleep", dir_.path() + "/bin/worker");
  auto child = Run(copy);
  ExeFacts facts;
  EXPECT_EQ(facts.Sha256(Running(*child, copy)), Digest("sha256sum", copy));
  EXPECT_EQ(facts.Sha256(Running(*child, copy)), Digest("sha256sum", copy));
  EXPECT_EQ(facts.files_hashed(), 1u);
  // A second process of the same file is the same file: not read again.
  auto second = Run(copy);
  EXPECT_EQ(facts.Sha256(Running(*second, copy)), Digest("sha256sum", copy));
  EXPECT_EQ(facts.files_hashed(), 1u);
}

TEST_F(ExeFactsTest, UsesTheFileIdentityTheCollectorGives) {
  const std::string copy = CopyOf("/usr/bin/sleep", dir_.path() + "/bin/worker");
  auto child = Run(copy);
  struct stat status {};
  ASSERT_EQ(stat(copy.c_str(), &status), 0);
  collectors::Process process = Running(*child, copy);
  process.exe_device = status.st_dev;
  process.exe_inode = status.st_ino;
  process.exe_mtime_ns = status.st_mtim.tv_sec * 1'000'000'000LL + status.st_mtim.tv_nsec;
  ExeFacts facts;
  EXPECT_EQ(facts.Sha256(process), Digest("sha256sum", copy));
  // An identity that is not the running file's is never hashed under its name.
  process.exe_inode += 1;
  EXPECT_EQ(facts.Sha256(process), std::nullopt);
}

TEST_F(ExeFactsTest, HashesTheRunningFileEvenAfterItIsReplacedOnDisk) {
  const std::string copy = CopyOf("/usr/bin/sleep", dir_.path() + "/bin/worker");
  const std::string original = Digest("sha256sum", copy);
  auto child = Run(copy);
  // Replace the file under its name with another binary (a new inode, as an attacker's
  // `mv` would be).
  const std::string other = CopyOf("/usr/bin/true", dir_.path() + "/bin/other");
  std::filesystem::rename(other, copy);
  ASSERT_NE(Digest("sha256sum", copy), original);
  ExeFacts facts;
  EXPECT_EQ(facts.Sha256(Running(*child, copy)), original);
}

TEST_F(ExeFactsTest, AGoneProcessHasNoHash) {
  collectors::Process gone;
  gone.pid = 999'999'999;
  gone.exe = "/usr/bin/sleep";
  ExeFacts facts;
  EXPECT_EQ(facts.Sha256(gone), std::nullopt);
}

TEST_F(ExeFactsTest, APackageOwnsAListedUnmodifiedFile) {
  const std::string copy = CopyOf("/usr/bin/sleep", dir_.path() + "/usr/sbin/daemon");
  Install("tools:amd64", copy, Digest("md5sum", copy));
  auto child = Run(copy);
  ExeFacts facts = FakeDpkg();
  EXPECT_EQ(facts.Package(Running(*child, copy)), "tools");
}

TEST_F(ExeFactsTest, AFileModifiedSinceInstallationOrNotListedHasNoPackage) {
  const std::string modified = CopyOf("/usr/bin/sleep", dir_.path() + "/usr/sbin/modified");
  Install("tools", modified, Digest("md5sum", "/usr/bin/true"));  // installed as another file
  const std::string unlisted = CopyOf("/usr/bin/sleep", dir_.path() + "/usr/sbin/unlisted");
  auto modified_child = Run(modified);
  auto unlisted_child = Run(unlisted);
  ExeFacts facts = FakeDpkg();
  EXPECT_EQ(facts.Package(Running(*modified_child, modified)), "");
  EXPECT_EQ(facts.Package(Running(*unlisted_child, unlisted)), "");
}

TEST_F(ExeFactsTest, APackageWithoutMd5sumsVouchesForItsPaths) {
  const std::string copy = CopyOf("/usr/bin/sleep", dir_.path() + "/usr/sbin/daemon");
  Install("tools", copy, std::nullopt);
  auto child = Run(copy);
  ExeFacts facts = FakeDpkg();
  EXPECT_EQ(facts.Package(Running(*child, copy)), "tools");
}

TEST_F(ExeFactsTest, SeesAPackageInstalledAfterTheFirstLook) {
  const std::string copy = CopyOf("/usr/bin/sleep", dir_.path() + "/usr/sbin/daemon");
  Install("other", "/usr/bin/other", std::nullopt);
  auto child = Run(copy);
  ExeFacts facts = FakeDpkg();
  EXPECT_EQ(facts.Package(Running(*child, copy)), "");
  // dpkg adds the lists to the directory and rewrites its status file.
  Install("tools", copy, Digest("md5sum", copy));
  dir_.WriteFile("status.new", "Package: tools\n");
  std::filesystem::rename(dir_.path() + "/status.new", dir_.path() + "/status");
  EXPECT_EQ(facts.Package(Running(*child, copy)), "tools");
}

TEST_F(ExeFactsTest, TheHostsDpkgOwnsItsOwnSleep) {
  if (!std::filesystem::exists("/var/lib/dpkg/info/coreutils.list")) {
    GTEST_SKIP() << "no dpkg database here";
  }
  auto child = Run("/usr/bin/sleep");
  ExeFacts facts;
  EXPECT_EQ(facts.Package(Running(*child, "/usr/bin/sleep")), "coreutils");
}

// --- the conditions, through the loader and the engine ----------------------------------------

class ExeConditionTest : public ExeFactsTest {
 protected:
  void SetUp() override { ASSERT_TRUE(namespaces_.entered()) << "needs root for a namespace"; }

  // The ids of the rules of `yaml` that fire on this namespace's sockets.
  std::vector<std::string> Fired(const std::string& yaml) {
    Result<RuleSet> rules = LoadRules({dir_.WriteFile("rules.yaml", yaml)});
    EXPECT_TRUE(rules.ok()) << rules.error().message;
    if (!rules.ok()) return {};
    rules->detectors = DetectorsConfig{};
    Engine engine(*rules);
    engine.SetExeFacts(std::make_shared<ExeFacts>(
        ExeFacts::Options{.proc = "/proc", .dpkg_info = dir_.path() + "/dpkg"}));
    Result<collectors::Snapshot> snapshot = collector_->Collect();
    EXPECT_TRUE(snapshot.ok());
    std::vector<std::string> ids;
    for (const Finding& finding : engine.Evaluate(*snapshot, 0)) {
      const bool is_rule = std::any_of(rules->rules.begin(), rules->rules.end(),
                                       [&](const Rule& rule) { return rule.id == finding.rule; });
      if (is_rule) ids.push_back(finding.rule);  // not a built-in detector's
    }
    return ids;
  }

  static std::string RuleText(const std::string& id, const std::string& test) {
    return "  - id: " + id +
           "\n    description: d\n    severity: high\n    when: {local_port: 8080, " + test + "}\n";
  }

  portwatch::testing::OwnNamespaces namespaces_{portwatch::testing::OwnNamespaces::Scope::kNetwork};
  std::unique_ptr<collectors::Collector> collector_ = collectors::MakeCollector({});
};

TEST_F(ExeConditionTest, Sha256AndPackageConditionsMatchWhatTheProcessRuns) {
  const std::string copy = CopyOf("/usr/bin/sleep", dir_.path() + "/usr/sbin/daemon");
  Install("tools", copy, Digest("md5sum", copy));
  auto listener = portwatch::testing::ListenerProcess(copy, 8080);
  const std::string hash = Digest("sha256sum", copy);
  const std::string other = Digest("sha256sum", "/usr/bin/true");
  const std::vector<std::string> fired = Fired(
      "rules:\n" + RuleText("right-hash", "sha256: " + hash) +
      RuleText(
          "upper-case-hash", "sha256: " +
                                 [&] {
                                   std::string upper = hash;
                                   for (char& c : upper) c = static_cast<char>(std::toupper(c));
                                   return upper;
                                 }()) +
      RuleText("wrong-hash", "sha256: " + other) + RuleText("right-package", "package: tools") +
      RuleText("package-glob", "package: \"tool*\"") +
      RuleText("wrong-package", "package: coreutils"));
  EXPECT_THAT(fired, ::testing::UnorderedElementsAre("right-hash", "upper-case-hash",
                                                     "right-package", "package-glob"));
}

TEST_F(ExeConditionTest, AnExceptionByHashDoesNotPassACopyWithAnotherContent) {
  const std::string copy = CopyOf("/usr/bin/true", dir_.path() + "/usr/sbin/daemon");
  auto listener = portwatch::testing::ListenerProcess(
      CopyOf("/usr/bin/sleep", dir_.path() + "/x/daemon"), 8080);
  const std::string yaml =
      "rules:\n  - id: any-8080\n    description: d\n    severity: high\n"
      "    when: {local_port: 8080}\n    except: {sha256: " +
      Digest("sha256sum", copy) + "}\n";
  EXPECT_THAT(Fired(yaml), ::testing::ElementsAre("any-8080"));
}

}  // namespace
}  // namespace portwatch::agent::rules
