#include "collectors/time_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "tests/support/scoped_env.h"

namespace portwatch::collectors {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

// Unix milliseconds of a UTC calendar time, computed without the code under test.
int64_t Utc(int year, unsigned month, unsigned day, int hour = 0, int minute = 0, int second = 0) {
  using namespace std::chrono;
  const sys_days date =
      year_month_day{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  return duration_cast<milliseconds>(date.time_since_epoch()).count() +
         (int64_t{hour} * 3600 + int64_t{minute} * 60 + second) * 1000;
}

// Sets TZ for one test and restores the previous value afterwards.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* zone)
      : zone_(std::make_unique<portwatch::testing::ScopedEnv>("TZ", zone)) {
    tzset();
  }
  ~ScopedTimeZone() {
    zone_.reset();
    tzset();
  }
  ScopedTimeZone(const ScopedTimeZone&) = delete;
  ScopedTimeZone& operator=(const ScopedTimeZone&) = delete;

 private:
  std::unique_ptr<portwatch::testing::ScopedEnv> zone_;
};

bool HaveZone(const char* zone) {
  return std::filesystem::exists(std::string("/usr/share/zoneinfo/") + zone);
}

int64_t MomentOk(std::string_view text, int64_t now) {
  Result<int64_t> moment = ParseMoment(text, now);
  EXPECT_TRUE(moment.ok()) << text << ": " << (moment.ok() ? "" : moment.error().message);
  return moment.ok() ? *moment : INT64_MIN;
}

std::string MomentError(std::string_view text, int64_t now) {
  Result<int64_t> moment = ParseMoment(text, now);
  EXPECT_FALSE(moment.ok()) << "'" << text << "' parsed as " << (moment.ok() ? *moment : 0);
  return moment.ok() ? std::string() : moment.error().message;
}

const int64_t kNow = Utc(2026, 11, 24, 12, 0, 0);

TEST(ParseDuration, EveryUnit) {
  EXPECT_EQ(*ParseDuration("500ms"), 500);
  EXPECT_EQ(*ParseDuration("30s"), 30 * kSecond);
  EXPECT_EQ(*ParseDuration("5m"), 5 * kMinute);
  EXPECT_EQ(*ParseDuration("2h"), 2 * kHour);
  EXPECT_EQ(*ParseDuration("7d"), 7 * kDay);
  EXPECT_EQ(*ParseDuration("1w"), 7 * kDay);
  EXPECT_EQ(*ParseDuration("0s"), 0);
  EXPECT_EQ(*ParseDuration("90m"), 90 * kMinute);
}

TEST(ParseDuration, MalformedIsAnErrorNamingTheInputAndTheForms) {
  for (const char* text : {"", "5", "ms", "h", "-5s", "1.5h", "5 m", "5M", "5H", "5min", "5sec",
                           "5hh", "s5", "5y", " 5s", "5s "}) {
    Result<int64_t> duration = ParseDuration(text);
    ASSERT_FALSE(duration.ok()) << "'" << text << "' parsed as " << *duration;
    EXPECT_THAT(duration.error().message, HasSubstr(std::string("'") + text + "'"));
    EXPECT_THAT(duration.error().message, HasSubstr("30s"));
  }
}

TEST(ParseDuration, TooLongIsAnError) {
  for (const char* text :
       {"9223372036854775807ms", "99999999999999999999999s", "100000000000000w"}) {
    Result<int64_t> duration = ParseDuration(text);
    ASSERT_FALSE(duration.ok()) << text << " parsed as " << *duration;
    EXPECT_THAT(duration.error().message, HasSubstr(text));
  }
  EXPECT_TRUE(ParseDuration("1000w").ok());
}

TEST(ParseMoment, Now) { EXPECT_EQ(MomentOk("now", kNow), kNow); }

TEST(ParseMoment, RelativeWithMinus) {
  EXPECT_EQ(MomentOk("-2h", kNow), kNow - 2 * kHour);
  EXPECT_EQ(MomentOk("-90m", kNow), kNow - 90 * kMinute);
  EXPECT_EQ(MomentOk("-1w", kNow), kNow - 7 * kDay);
}

TEST(ParseMoment, RelativeWithAgo) {
  EXPECT_EQ(MomentOk("2h ago", kNow), kNow - 2 * kHour);
  EXPECT_EQ(MomentOk("500ms ago", kNow), kNow - 500);
}

TEST(ParseMoment, BadRelativeFormsAreErrorsNamingTheInput) {
  for (const char* text :
       {"-", "-2", "-2x", "--2h", "2 hours ago", "ago", " ago", "xh ago", "2h  ago", "-2h ago"}) {
    EXPECT_THAT(MomentError(text, kNow), HasSubstr(std::string("'") + text + "'")) << text;
  }
}

TEST(ParseMoment, IsoUtc) {
  EXPECT_EQ(MomentOk("2026-11-24T03:10:00Z", kNow), Utc(2026, 11, 24, 3, 10, 0));
  EXPECT_EQ(MomentOk("2026-11-24T03:10:00Z", kNow), 1795489800000);
  EXPECT_EQ(MomentOk("2026-11-24T03:10Z", kNow), Utc(2026, 11, 24, 3, 10, 0));
  EXPECT_EQ(MomentOk("2026-11-24 03:10:59Z", kNow), Utc(2026, 11, 24, 3, 10, 59));
  EXPECT_EQ(MomentOk("2024-02-29T00:00:00Z", kNow), Utc(2024, 2, 29));
  EXPECT_EQ(MomentOk("1970-01-01T00:00:00Z", kNow), 0);
}

TEST(ParseMoment, IsoFractionalSecondsAreAccepted) {
  const int64_t moment = MomentOk("2026-11-24T03:10:00.250Z", kNow);
  // Whole seconds at least; the fraction may be kept or dropped.
  EXPECT_GE(moment, Utc(2026, 11, 24, 3, 10, 0));
  EXPECT_LT(moment, Utc(2026, 11, 24, 3, 10, 1));
}

TEST(ParseMoment, IsoWithOffsets) {
  EXPECT_EQ(MomentOk("2026-11-24T03:10+02:00", kNow), Utc(2026, 11, 24, 1, 10, 0));
  EXPECT_EQ(MomentOk("2026-11-24T03:10:00+02:00", kNow), Utc(2026, 11, 24, 1, 10, 0));
  EXPECT_EQ(MomentOk("2026-11-24T03:10:00-05:30", kNow), Utc(2026, 11, 24, 8, 40, 0));
  EXPECT_EQ(MomentOk("2026-11-24T03:10:00+00:00", kNow), Utc(2026, 11, 24, 3, 10, 0));
  // The offset moves the moment across midnight.
  EXPECT_EQ(MomentOk("2026-11-24T01:00:00+05:00", kNow), Utc(2026, 11, 23, 20, 0, 0));
  EXPECT_EQ(MomentOk("2026-12-31T23:30:00-01:00", kNow), Utc(2027, 1, 1, 0, 30, 0));
}

TEST(ParseMoment, IsoWithZoneDoesNotDependOnTheLocalZone) {
  ScopedTimeZone zone("America/New_York");
  EXPECT_EQ(MomentOk("2026-11-24T03:10:00Z", kNow), Utc(2026, 11, 24, 3, 10, 0));
  EXPECT_EQ(MomentOk("2026-07-01T03:10:00+02:00", kNow), Utc(2026, 7, 1, 1, 10, 0));
}

TEST(ParseMoment, LocalFormsInUtc) {
  ScopedTimeZone zone("UTC");
  EXPECT_EQ(MomentOk("2026-11-24 03:10", kNow), Utc(2026, 11, 24, 3, 10));
  EXPECT_EQ(MomentOk("2026-11-24 03:10:05", kNow), Utc(2026, 11, 24, 3, 10, 5));
  EXPECT_EQ(MomentOk("2026-11-24T03:10", kNow), Utc(2026, 11, 24, 3, 10));
  EXPECT_EQ(MomentOk("2026-11-24", kNow), Utc(2026, 11, 24));
  EXPECT_EQ(MomentOk("today 03:10", kNow), Utc(2026, 11, 24, 3, 10));
  EXPECT_EQ(MomentOk("yesterday 03:10", kNow), Utc(2026, 11, 23, 3, 10));
  EXPECT_EQ(MomentOk("yesterday 23:59:30", kNow), Utc(2026, 11, 23, 23, 59, 30));
  // Yesterday of the first of a month and of a year.
  EXPECT_EQ(MomentOk("yesterday 03:10", Utc(2026, 3, 1, 0, 30)), Utc(2026, 2, 28, 3, 10));
  EXPECT_EQ(MomentOk("yesterday 03:10", Utc(2027, 1, 1, 0, 30)), Utc(2026, 12, 31, 3, 10));
}

TEST(ParseMoment, LocalFormsInBerlin) {
  if (!HaveZone("Europe/Berlin")) GTEST_SKIP() << "tzdata is not installed";
  ScopedTimeZone zone("Europe/Berlin");
  // Winter: UTC+1.
  EXPECT_EQ(MomentOk("2026-11-24 03:10", kNow), Utc(2026, 11, 24, 2, 10));
  EXPECT_EQ(MomentOk("2026-11-24", kNow), Utc(2026, 11, 23, 23, 0));
  // Summer: UTC+2.
  EXPECT_EQ(MomentOk("2026-07-01 03:10", kNow), Utc(2026, 7, 1, 1, 10));
  EXPECT_EQ(MomentOk("yesterday 03:10", kNow), Utc(2026, 11, 23, 2, 10));
  // "today" is the local date: 23:30 UTC on the 23rd is already the 24th in Berlin.
  EXPECT_EQ(MomentOk("today 03:10", Utc(2026, 11, 23, 23, 30)), Utc(2026, 11, 24, 2, 10));
  // Across the spring change (29 March 2026): yesterday was partly winter time, 03:10 summer.
  EXPECT_EQ(MomentOk("yesterday 03:10", Utc(2026, 3, 30, 12, 0)), Utc(2026, 3, 29, 1, 10));
  EXPECT_EQ(MomentOk("yesterday 01:10", Utc(2026, 3, 30, 12, 0)), Utc(2026, 3, 29, 0, 10));
  // A zone given explicitly wins over the local one.
  EXPECT_EQ(MomentOk("2026-11-24T03:10:00Z", kNow), Utc(2026, 11, 24, 3, 10));
}

TEST(ParseMoment, InvalidDatesAreErrors) {
  ScopedTimeZone zone("UTC");
  for (const char* text : {"2026-02-31", "2026-02-29", "2026-04-31 03:10", "2026-13-01",
                           "2026-00-10", "2026-11-00", "2026-11-32"}) {
    EXPECT_THAT(MomentError(text, kNow), HasSubstr(std::string("'") + text + "'")) << text;
  }
}

TEST(ParseMoment, InvalidDatesWithAZoneAreErrors) {
  // With an explicit zone the date must be checked too, not normalised to 3 March.
  for (const char* text : {"2026-02-31T03:10:00Z", "2026-04-31T00:00:00+02:00"}) {
    EXPECT_THAT(MomentError(text, kNow), HasSubstr(std::string("'") + text + "'")) << text;
  }
}

TEST(ParseMoment, InvalidClocksAndZonesAreErrors) {
  for (const char* text :
       {"2026-11-24T24:00:00Z", "2026-11-24T03:60Z", "2026-11-24T3:10Z", "2026-11-24T03:10:0Z",
        "2026-11-24T03:10+0200", "2026-11-24T03:10+24:00", "2026-11-24T03:10+02:60",
        "2026-11-24T03:10+2:00", "2026-11-24T03:10ZZ", "2026-11-24X03:10", "2026-11-24T",
        "today 25:00", "yesterday", "yesterday 3:10", "tomorrow 03:10", "2026/11/24"}) {
    EXPECT_THAT(MomentError(text, kNow), HasSubstr(std::string("'") + text + "'")) << text;
  }
}

TEST(ParseMoment, ZoneIsZOrASignAndTwoDigitFields) {
  // "Z12:34" is neither Z nor an offset; "+-1:00" has a sign too many.
  for (const char* text : {"2026-11-24T03:10Z12:34", "2026-11-24T03:10+-1:00"}) {
    EXPECT_THAT(MomentError(text, kNow), HasSubstr(std::string("'") + text + "'")) << text;
  }
}

TEST(ParseMoment, GarbageIsAnErrorNamingTheInputAndTheForms) {
  for (const char* text : {"", "soon", "NOW", "now ", "12345", "last tuesday"}) {
    const std::string message = MomentError(text, kNow);
    EXPECT_THAT(message, HasSubstr(std::string("'") + text + "'")) << text;
    EXPECT_THAT(message, HasSubstr("2h ago")) << text;
  }
}

TEST(ParseSince, DurationCountsBackFromNow) {
  EXPECT_EQ(*ParseSince("24h", kNow), kNow - 24 * kHour);
  EXPECT_EQ(*ParseSince("90m", kNow), kNow - 90 * kMinute);
}

TEST(ParseSince, AcceptsMoments) {
  EXPECT_EQ(*ParseSince("now", kNow), kNow);
  EXPECT_EQ(*ParseSince("-2h", kNow), kNow - 2 * kHour);
  EXPECT_EQ(*ParseSince("2h ago", kNow), kNow - 2 * kHour);
  EXPECT_EQ(*ParseSince("2026-11-24T03:10:00Z", kNow), Utc(2026, 11, 24, 3, 10));
}

TEST(ParseSince, GarbageIsAnErrorNamingTheInput) {
  Result<int64_t> since = ParseSince("a while", kNow);
  ASSERT_FALSE(since.ok());
  EXPECT_THAT(since.error().message, HasSubstr("'a while'"));
}

TEST(FormatLocalTime, FormatsInTheLocalZone) {
  {
    ScopedTimeZone zone("UTC");
    EXPECT_EQ(FormatLocalTime(Utc(2026, 11, 24, 3, 10, 5)), "2026-11-24 03:10:05");
  }
  if (HaveZone("Europe/Berlin")) {
    ScopedTimeZone zone("Europe/Berlin");
    EXPECT_EQ(FormatLocalTime(Utc(2026, 11, 24, 3, 10, 5)), "2026-11-24 04:10:05");
  }
}

TEST(FormatLocalTime, RoundTripsWithParseMoment) {
  ScopedTimeZone zone("UTC");
  const int64_t moment = Utc(2026, 5, 17, 8, 9, 10);
  EXPECT_EQ(MomentOk(FormatLocalTime(moment), kNow), moment);
}

}  // namespace
}  // namespace portwatch::collectors
