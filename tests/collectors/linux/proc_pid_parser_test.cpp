#include "collectors/linux/proc_pid_parser.h"

#include <gtest/gtest.h>

namespace portwatch::collectors::linux {
namespace {

// A real /proc/PID/stat line (fields after starttime trimmed for width).
constexpr const char* kSshdStat =
    "812 (sshd) S 1 812 812 0 -1 4194560 1520 3375 11 3 8 4 7 2 20 0 1 0 1234 15286272 2310 "
    "18446744073709551615 1 1 0 0 0 0 0 4096 81925 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcPidParser, ReadsNameParentAndStartTime) {
  const auto stat = ParseProcStat(kSshdStat);
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->name, "sshd");
  EXPECT_EQ(stat->ppid, 1);
  EXPECT_EQ(stat->start_time, 1234u);
}

TEST(ProcPidParser, NameMayHoldSpacesAndParentheses) {
  const auto stat = ParseProcStat(
      "4242 (evil) (x) y) R 17 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 987654 0 0\n");
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->name, "evil) (x) y");
  EXPECT_EQ(stat->ppid, 17);
  EXPECT_EQ(stat->start_time, 987654u);
}

TEST(ProcPidParser, TruncatedOrGarbledStatIsRejected) {
  const std::string full = kSshdStat;
  // Cut anywhere before the start time ends: no answer rather than a wrong one.
  const size_t start_time_end = full.find(" 1234 ") + 5;
  for (size_t length = 0; length < start_time_end; ++length) {
    EXPECT_FALSE(ParseProcStat(full.substr(0, length))) << length;
  }
  EXPECT_FALSE(ParseProcStat("812 sshd S 1"));
  EXPECT_FALSE(ParseProcStat("812 (sshd) S x 812"));
  EXPECT_FALSE(ParseProcStat(")("));
}

TEST(ProcPidParser, ReadsTheEffectiveUid) {
  EXPECT_EQ(ParseStatusEffectiveUid("Name:\tsshd\nUmask:\t0022\nState:\tS (sleeping)\n"
                                    "Uid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n"),
            0u);
  EXPECT_EQ(ParseStatusEffectiveUid("Uid:\t0\t33\t33\t33\n"), 33u);
  EXPECT_FALSE(ParseStatusEffectiveUid("Name:\tx\n"));
  EXPECT_FALSE(ParseStatusEffectiveUid("Uid:\t1000\n"));
  EXPECT_FALSE(ParseStatusEffectiveUid("Uid:\t1000\tabc\n"));
}

TEST(ProcPidParser, JoinsCmdlineArguments) {
  EXPECT_EQ(JoinCmdline(std::string_view("nginx: master\0-g\0daemon off;\0", 29)),
            "nginx: master -g daemon off;");
  EXPECT_EQ(JoinCmdline(std::string_view("\0\0", 2)), "");
  EXPECT_EQ(JoinCmdline(""), "");
}

TEST(ProcPidParser, NotesADeletedExecutable) {
  bool deleted = false;
  EXPECT_EQ(StripDeletedSuffix("/tmp/.x/miner (deleted)", deleted), "/tmp/.x/miner");
  EXPECT_TRUE(deleted);
  EXPECT_EQ(StripDeletedSuffix("/usr/sbin/sshd", deleted), "/usr/sbin/sshd");
  EXPECT_FALSE(deleted);
  EXPECT_EQ(StripDeletedSuffix(" (deleted)", deleted), " (deleted)");
  EXPECT_FALSE(deleted);
}

}  // namespace
}  // namespace portwatch::collectors::linux
