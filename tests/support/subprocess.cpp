#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <gtest/gtest.h>

#include "tests/support/sockets.h"

namespace portwatch::testing {

namespace {

void ReadAll(int out_fd, int err_fd, std::string& out, std::string& err) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_count = 2;
  char buffer[65536];
  while (open_count > 0) {
    if (poll(fds, 2, -1) < 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t got = read(fds[i].fd, buffer, sizeof(buffer));
      if (got <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
        continue;
      }
      (i == 0 ? out : err).append(buffer, static_cast<size_t>(got));
    }
  }
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv) {
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandResult result;
  ReadAll(out_pipe[0], err_pipe[0], result.out, result.err);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string Describe(const CommandResult& result) {
  constexpr size_t kMaxShown = 4000;
  return "exit " + std::to_string(result.exit_code) + "\n--- stdout:\n" +
         result.out.substr(0, kMaxShown) + "\n--- stderr:\n" + result.err.substr(0, kMaxShown);
}

ChildProcess::ChildProcess(const std::function<void()>& body) {
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(ready[0]);
    body();
    const char done = 1;
    (void)!write(ready[1], &done, 1);
    for (;;) pause();
  }
  close(ready[1]);
  char done = 0;
  const ssize_t got = read(ready[0], &done, 1);
  close(ready[0]);
  if (got != 1) throw std::runtime_error("child process failed before it was ready");
}

std::unique_ptr<ChildProcess> ChildProcess::Exec(const std::vector<std::string>& argv,
                                                 const std::vector<int>& inherited) {
  // The pipe closes on a successful exec; a failed one writes its errno into it first.
  int status[2];
  if (pipe2(status, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->pid_ = fork();
  if (child->pid_ < 0) throw std::runtime_error("fork failed");
  if (child->pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(status[0]);
    for (const int fd : inherited) fcntl(fd, F_SETFD, 0);
    execv(args[0], args.data());
    const int error = errno;
    (void)!write(status[1], &error, sizeof(error));
    _exit(127);
  }
  close(status[1]);
  int error = 0;
  const ssize_t got = read(status[0], &error, sizeof(error));
  close(status[0]);
  if (got > 0) throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(error));
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

std::unique_ptr<ChildProcess> ListenerProcess(const std::string& program, uint16_t port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  EXPECT_TRUE(BindTo(fd.get(), AF_INET, "0.0.0.0", port)) << "port " << port;
  EXPECT_EQ(listen(fd.get(), 8), 0);
  std::unique_ptr<ChildProcess> child = ChildProcess::Exec({program, "1000"}, {fd.get()});
  fd.Reset();
  return child;
}

}  // namespace portwatch::testing
