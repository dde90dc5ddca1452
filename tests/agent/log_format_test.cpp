// Log lines on stderr: the journal's form under systemd, timestamps elsewhere.

#include "agent/log_format.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "tests/support/temp_dir.h"

namespace portwatch::agent {
namespace {

using portwatch::testing::TempDir;

std::string Format(bool journal, spdlog::level::level_enum level, const std::string& text) {
  const spdlog::details::log_msg message("portwatch", level, text);
  spdlog::memory_buf_t out;
  StderrLogFormatter(journal)->format(message, out);
  return std::string(out.data(), out.size());
}

TEST(LogFormat, TheJournalGetsTheSyslogPriorityAndNoTimestamp) {
  EXPECT_EQ(Format(true, spdlog::level::critical, "disk gone"), "<2>disk gone\n");
  EXPECT_EQ(Format(true, spdlog::level::err, "store failed"), "<3>store failed\n");
  EXPECT_EQ(Format(true, spdlog::level::warn, "webhook down"), "<4>webhook down\n");
  EXPECT_EQ(Format(true, spdlog::level::info, "agent started"), "<6>agent started\n");
  EXPECT_EQ(Format(true, spdlog::level::debug, "scan"), "<7>scan\n");
}

TEST(LogFormat, ElsewhereLinesStartWithTheTimeAndLevel) {
  const std::string line = Format(false, spdlog::level::warn, "webhook down");
  // 2026-12-06T22:30:00.000 warning webhook down
  ASSERT_GE(line.size(), 24u);
  EXPECT_EQ(line[4], '-');
  EXPECT_EQ(line[10], 'T');
  EXPECT_NE(line.find(" warning webhook down\n"), std::string::npos) << line;
}

TEST(LogFormat, TextQuotedFromAProcessCannotForgeALineOrReverseOne) {
  // A process named "x<LF><4>forged" would otherwise write a second journal entry, at warning.
  const std::string hostile = "alert: nc\n<4>forged \x1b[2J \xE2\x80\xAEgpj.exe";
  EXPECT_EQ(Format(true, spdlog::level::info, hostile),
            "<6>alert: nc\\n<4>forged \\x1b[2J \\u202egpj.exe\n");
  const std::string line = Format(false, spdlog::level::info, hostile);
  EXPECT_NE(line.find(" info alert: nc\\n<4>forged \\x1b[2J \\u202egpj.exe\n"), std::string::npos)
      << line;
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
}

TEST(LogFormat, RecognisesTheJournalStreamByDeviceAndInode) {
  TempDir dir;
  const std::string path = dir.WriteFile("stream", "");
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  struct stat info {};
  ASSERT_EQ(fstat(fd, &info), 0);
  const std::string matching = std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino);
  EXPECT_TRUE(IsJournalStream(fd, matching.c_str()));
  // Redirected elsewhere (another file), unset, or not of the DEVICE:INODE form: not the journal.
  const std::string other = std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino + 1);
  EXPECT_FALSE(IsJournalStream(fd, other.c_str()));
  EXPECT_FALSE(IsJournalStream(fd, nullptr));
  EXPECT_FALSE(IsJournalStream(fd, ""));
  EXPECT_FALSE(IsJournalStream(fd, (matching + "x").c_str()));
  EXPECT_FALSE(IsJournalStream(fd, "journal"));
  close(fd);
  EXPECT_FALSE(IsJournalStream(fd, matching.c_str()));  // a closed descriptor
}

}  // namespace
}  // namespace portwatch::agent
