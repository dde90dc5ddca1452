#include "agent/notify/message.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/agent/notify/sample_alerts.h"

namespace portwatch::agent::notify {
namespace {

using testing::kConnectionEvidence;
using testing::kFirstSeen;
using testing::kLastSeen;
using testing::kListenerEvidence;
using testing::ListenerAlert;

using store::AlertEventKind;

const MessageContext kContext{"web-1", "https://pw.example/"};

TEST(Message, TakesTheFactsFromTheEvidence) {
  const Message message =
      BuildMessage(ListenerAlert(), AlertEventKind::kOpened, 99, kLastSeen, kContext);
  EXPECT_EQ(message.host, "web-1");
  EXPECT_EQ(message.event_id, 99);
  EXPECT_EQ(message.at, kLastSeen);
  EXPECT_EQ(message.severity, "high");
  EXPECT_EQ(message.program, "nc");
  EXPECT_EQ(message.exe, "/tmp/nc");
  EXPECT_EQ(message.user, "root");
  EXPECT_EQ(message.pid, 4242);
  EXPECT_EQ(message.protocol, "tcp");
  EXPECT_EQ(message.local, "0.0.0.0:31337");
  EXPECT_EQ(message.remote, "");  // a listener has no peer
  EXPECT_EQ(message.port, 31337);
  EXPECT_EQ(message.service, "");
  EXPECT_EQ(message.category, "registered");
  EXPECT_EQ(message.exposure, "all");
  EXPECT_FALSE(message.test);
}

TEST(Message, ReadsTheReasonsMostSevereFirst) {
  store::Alert alert = ListenerAlert();
  alert.reasons =
      R"([{"rule":"unexpected-listener","severity":"medium","mitre":"","reason":"new"},)"
      R"({"rule":"backdoor-port","severity":"critical","mitre":"T1571","reason":"backdoor"},)"
      R"({"rule":"dynamic-range","severity":"low","mitre":"T1571","reason":"ephemeral"}])";
  const Message message = BuildMessage(alert, AlertEventKind::kOpened, 1, 0, kContext);
  ASSERT_EQ(message.reasons.size(), 3u);
  EXPECT_EQ(message.reasons[0].rule, "backdoor-port");
  EXPECT_EQ(message.reasons[0].severity, "critical");
  EXPECT_EQ(message.reasons[0].mitre, "T1571");
  EXPECT_EQ(message.reasons[0].text, "backdoor");
  EXPECT_EQ(message.reasons[1].rule, "unexpected-listener");
  EXPECT_EQ(message.reasons[2].rule, "dynamic-range");
  EXPECT_EQ(message.rule(), "backdoor-port");
}

TEST(Message, WritesIpv6EndpointsInBrackets) {
  store::Alert alert = ListenerAlert();
  alert.kind = 2;
  alert.last_evidence = kConnectionEvidence;
  const Message message = BuildMessage(alert, AlertEventKind::kOpened, 1, 0, kContext);
  EXPECT_EQ(message.local, "[2001:db8::5]:51234");
  EXPECT_EQ(message.remote, "[2001:db8::7]:443");
  EXPECT_EQ(message.port, 443);  // the service port, not the ephemeral local one
  EXPECT_EQ(message.service, "https");
  EXPECT_EQ(message.category, "well-known");
  EXPECT_EQ(message.program, "curl");
}

TEST(Message, ToleratesMalformedReasonsAndEvidence) {
  for (const char* bad : {"", "not json", "[1,2", "{\"a\":", "42", "null", "[\"x\", 3]"}) {
    store::Alert alert = ListenerAlert();
    alert.reasons = bad;
    alert.last_evidence = bad;
    const Message message = BuildMessage(alert, AlertEventKind::kOpened, 1, 0, kContext);
    EXPECT_TRUE(message.reasons.empty()) << bad;
    EXPECT_EQ(message.rule(), "") << bad;
    EXPECT_EQ(message.program, "") << bad;
    EXPECT_EQ(message.local, "") << bad;
    EXPECT_FALSE(message.pid.has_value()) << bad;
    EXPECT_FALSE(message.port.has_value()) << bad;
    EXPECT_EQ(message.severity, "high") << bad;  // from the alert itself
  }
}

TEST(Message, ToleratesFieldsOfTheWrongType) {
  store::Alert alert = ListenerAlert();
  alert.reasons = R"([{"rule":5,"severity":null,"reason":["x"]}, "loose", 3])";
  alert.last_evidence =
      R"({"pid":"4242","process":17,"local_addr":"10.0.0.1","local_port":"80","service_port":-1})";
  const Message message = BuildMessage(alert, AlertEventKind::kOpened, 1, 0, kContext);
  ASSERT_EQ(message.reasons.size(), 1u);
  EXPECT_EQ(message.reasons[0].rule, "");
  EXPECT_FALSE(message.pid.has_value());
  EXPECT_EQ(message.program, "");
  EXPECT_EQ(message.local, "10.0.0.1");  // the address without a usable port
  EXPECT_FALSE(message.port.has_value());
}

TEST(Message, TakesTheLeadReasonsSeverityWhenTheAlertHasNone) {
  store::Alert alert = ListenerAlert();
  alert.severity = 0;
  EXPECT_EQ(BuildMessage(alert, AlertEventKind::kOpened, 1, 0, kContext).severity, "high");
  alert.reasons = "[]";
  EXPECT_EQ(BuildMessage(alert, AlertEventKind::kOpened, 1, 0, kContext).severity, "");
}

TEST(Message, LinksToTheAlertOnlyWithADashboardUrl) {
  EXPECT_EQ(BuildMessage(ListenerAlert(), AlertEventKind::kOpened, 1, 0, kContext).link,
            "https://pw.example/#/alerts/7");
  EXPECT_EQ(BuildMessage(ListenerAlert(), AlertEventKind::kOpened, 1, 0,
                         {"web-1", "http://10.0.0.2:7678///"})
                .link,
            "http://10.0.0.2:7678/#/alerts/7");
  EXPECT_EQ(BuildMessage(ListenerAlert(), AlertEventKind::kOpened, 1, 0, {"web-1", ""}).link, "");
}

TEST(Message, IdempotencyKeyIsTheOutboxAndTheEventId) {
  EXPECT_EQ(
      BuildMessage(ListenerAlert(), AlertEventKind::kResolved, 1234, 0, kContext).idempotency_key,
      "web-1:1234");
  MessageContext with_id = kContext;
  with_id.outbox_id = "5f1c0a2b9d3e4f60";
  EXPECT_EQ(
      BuildMessage(ListenerAlert(), AlertEventKind::kResolved, 1234, 0, with_id).idempotency_key,
      "5f1c0a2b9d3e4f60:1234");
}

TEST(Message, ReplacesControlCharactersAndBidiOverridesInHostText) {
  store::Alert alert = ListenerAlert();
  alert.title = "nc\nSeverity: info";
  alert.last_evidence = R"({"process":"a\u0007b","exe":"/tmp/\u202egpj.exe","user":"ro\rot"})";
  alert.reasons = R"([{"rule":"r","severity":"high","reason":"line one\nline two"}])";
  const Message message = BuildMessage(alert, AlertEventKind::kOpened, 1, 0, kContext);
  const std::string replacement = "\xEF\xBF\xBD";
  EXPECT_EQ(message.alert.title, "nc" + replacement + "Severity: info");
  EXPECT_EQ(message.program, "a" + replacement + "b");
  EXPECT_EQ(message.exe, "/tmp/" + replacement + "gpj.exe");
  EXPECT_EQ(message.user, "ro" + replacement + "ot");
  EXPECT_EQ(message.reasons.at(0).text, "line one" + replacement + "line two");
}

TEST(Message, ReplacesInvalidUtf8InTheTitle) {
  store::Alert alert = ListenerAlert();
  alert.title = "caf\xC3 \xE9t\xC3\xA9";  // a cut sequence, a lone Latin-1 byte, then a valid é
  const Message message = BuildMessage(alert, AlertEventKind::kOpened, 1, 0, kContext);
  EXPECT_EQ(message.alert.title, "caf\xEF\xBF\xBD \xEF\xBF\xBDt\xC3\xA9");
}

TEST(Message, TestMessageSaysItIsATest) {
  const Message message = TestMessage(kContext, kLastSeen);
  EXPECT_TRUE(message.test);
  EXPECT_EQ(message.severity, "info");
  EXPECT_EQ(message.event_id, 0);
  EXPECT_EQ(message.at, kLastSeen);
  EXPECT_NE(message.alert.title.find("Test"), std::string::npos) << message.alert.title;
  EXPECT_NE(message.alert.title.find("portwatch"), std::string::npos) << message.alert.title;
  EXPECT_NE(message.alert.title.find("web-1"), std::string::npos) << message.alert.title;
  EXPECT_EQ(message.link, "https://pw.example/#/alerts");
  EXPECT_EQ(TestMessage({"web-1", ""}, 1).link, "");
  // Two tests are two deliveries: a receiver that drops repeated keys must take both.
  EXPECT_NE(TestMessage(kContext, 1).idempotency_key, TestMessage(kContext, 2).idempotency_key);
  EXPECT_EQ(Headline(message).rfind("[TEST] ", 0), 0u) << Headline(message);
}

TEST(MessageHeadline, ShowsSeverityEventHostAndTitle) {
  EXPECT_EQ(Headline(BuildMessage(ListenerAlert(), AlertEventKind::kOpened, 1, 0, kContext)),
            "[HIGH] opened on web-1: nc (pid 4242, user root) listens on 0.0.0.0:31337/tcp");
  EXPECT_EQ(Headline(BuildMessage(ListenerAlert(), AlertEventKind::kResolved, 1, 0, kContext)),
            "[HIGH] resolved on web-1: nc (pid 4242, user root) listens on 0.0.0.0:31337/tcp");
}

TEST(MessageHeadline, FallsBackToTheLeadReasonWithoutATitle) {
  store::Alert alert = ListenerAlert();
  alert.title.clear();
  EXPECT_EQ(Headline(BuildMessage(alert, AlertEventKind::kEscalated, 1, 0, kContext)),
            "[HIGH] escalated on web-1: 31337 is a known backdoor port");
}

TEST(MessageFacts, ListsTheLabelledFactsInDisplayOrderWithoutEmptyOnes) {
  const Message message = BuildMessage(ListenerAlert(), AlertEventKind::kOpened, 1, 0, kContext);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"Host", "web-1"},
      {"Rule", "backdoor-port (T1571)"},
      {"Severity", "high"},
      {"Program", "nc (/tmp/nc)"},
      {"PID", "4242"},
      {"User", "root"},
      {"Local", "0.0.0.0:31337"},
      {"Port", "31337/tcp, registered"},
      {"Exposure", "all interfaces"},
      {"Seen", "3 times"},
      {"Reasons", "31337 is a known backdoor port; a new listener not in the baseline"},
  };
  EXPECT_EQ(Facts(message), expected);
}

TEST(MessageFacts, NamesTheServiceAndThePeer) {
  store::Alert alert = ListenerAlert();
  alert.count = 1;
  alert.last_evidence = kConnectionEvidence;
  const auto facts = Facts(BuildMessage(alert, AlertEventKind::kOpened, 1, 0, kContext));
  const auto value = [&facts](const std::string& label) {
    for (const auto& [name, text] : facts) {
      if (name == label) return text;
    }
    return std::string("<absent>");
  };
  EXPECT_EQ(value("Remote"), "[2001:db8::7]:443");
  EXPECT_EQ(value("Port"), "443/tcp https, well-known");
  EXPECT_EQ(value("Program"), "curl (/usr/bin/curl)");
  EXPECT_EQ(value("Seen"), "once");
}

TEST(MessageEventName, NamesEveryKind) {
  EXPECT_EQ(EventName(AlertEventKind::kOpened), "opened");
  EXPECT_EQ(EventName(AlertEventKind::kReopened), "reopened");
  EXPECT_EQ(EventName(AlertEventKind::kResolved), "resolved");
  EXPECT_EQ(EventName(AlertEventKind::kAcknowledged), "acknowledged");
  EXPECT_EQ(EventName(AlertEventKind::kSilenced), "silenced");
  EXPECT_EQ(EventName(AlertEventKind::kAccepted), "accepted");
  EXPECT_EQ(EventName(AlertEventKind::kEscalated), "escalated");
}

}  // namespace
}  // namespace portwatch::agent::notify
