#include "collectors/socket.h"

#include <gtest/gtest.h>

namespace portwatch::collectors {
namespace {

TEST(SocketState, NamesFollowTheProtocol) {
  EXPECT_EQ(StateName(Protocol::kTcp, SocketState::kListen), "LISTEN");
  EXPECT_EQ(StateName(Protocol::kTcp, SocketState::kClose), "CLOSE");
  EXPECT_EQ(StateName(Protocol::kUdp, SocketState::kClose), "UNCONN");
  EXPECT_EQ(StateName(Protocol::kUdp, SocketState::kEstablished), "ESTABLISHED");
  EXPECT_EQ(StateName(Protocol::kTcp, static_cast<SocketState>(200)), "UNKNOWN");
}

TEST(SocketState, ParsesWhatUsersType) {
  EXPECT_EQ(ParseStateName("listen"), SocketState::kListen);
  EXPECT_EQ(ParseStateName("LISTENING"), SocketState::kListen);
  EXPECT_EQ(ParseStateName("estab"), SocketState::kEstablished);
  EXPECT_EQ(ParseStateName("Established"), SocketState::kEstablished);
  EXPECT_EQ(ParseStateName("time-wait"), SocketState::kTimeWait);
  EXPECT_EQ(ParseStateName("TIME_WAIT"), SocketState::kTimeWait);
  EXPECT_EQ(ParseStateName("unconn"), SocketState::kClose);
  EXPECT_EQ(ParseStateName("close-wait"), SocketState::kCloseWait);
  EXPECT_EQ(ParseStateName("FIN-WAIT-1"), SocketState::kFinWait1);
  EXPECT_EQ(ParseStateName("fin_wait2"), SocketState::kFinWait2);
  EXPECT_EQ(ParseStateName("bogus"), SocketState::kUnknown);
  EXPECT_EQ(ParseStateName(""), SocketState::kUnknown);
  EXPECT_EQ(ParseStateName("UNKNOWN"), SocketState::kUnknown);
}

}  // namespace
}  // namespace portwatch::collectors
