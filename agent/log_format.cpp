#include "agent/log_format.h"

#include <spdlog/pattern_formatter.h>
#include <sys/stat.h>

#include <cinttypes>
#include <cstdio>

#include "collectors/untrusted_text.h"

namespace portwatch::agent {

namespace {

// "%*": the syslog priority of the message's level, in the "<N>" form the journal parses.
class SyslogPriorityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& message, const std::tm&,
              spdlog::memory_buf_t& out) override {
    // trace and debug: debug (7); info: info (6); warn: warning (4); err: err (3);
    // critical: crit (2).
    static constexpr char kPriority[] = {'7', '7', '6', '4', '3', '2', '6'};
    const auto level = static_cast<size_t>(message.level);
    out.push_back('<');
    out.push_back(level < sizeof(kPriority) ? kPriority[level] : '6');
    out.push_back('>');
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SyslogPriorityFlag>();
  }
};

// "%&": the message text with control and bidirectional characters as visible escapes. Messages
// quote what other programs chose (process names, paths, receivers' answers): a newline there
// would forge a second log line, or a second journal entry.
class EscapedPayloadFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& message, const std::tm&,
              spdlog::memory_buf_t& out) override {
    const std::string_view payload(message.payload.data(), message.payload.size());
    escaped_.clear();
    collectors::AppendEscapedUntrusted(escaped_, payload);
    out.append(escaped_.data(), escaped_.data() + escaped_.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedPayloadFlag>();
  }

 private:
  std::string escaped_;  // reused: a formatter is used by one sink, under its lock
};

}  // namespace

bool IsJournalStream(int fd, const char* journal_stream) {
  if (journal_stream == nullptr) return false;
  uintmax_t device = 0;
  uintmax_t inode = 0;
  int used = 0;
  if (std::sscanf(journal_stream, "%" SCNuMAX ":%" SCNuMAX "%n", &device, &inode, &used) != 2 ||
      journal_stream[used] != '\0') {
    return false;
  }
  struct stat info {};
  if (fstat(fd, &info) != 0) return false;
  return static_cast<uintmax_t>(info.st_dev) == device &&
         static_cast<uintmax_t>(info.st_ino) == inode;
}

std::unique_ptr<spdlog::formatter> StderrLogFormatter(bool journal) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (journal) {
    formatter->add_flag<SyslogPriorityFlag>('*');
    formatter->add_flag<EscapedPayloadFlag>('&').set_pattern("%*%&");
  } else {
    formatter->add_flag<EscapedPayloadFlag>('&').set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %&");
  }
  return formatter;
}

}  // namespace portwatch::agent
