// The built-in detectors, one file each, and the list the engine runs.
#pragma once

#include <memory>
#include <vector>

#include "agent/rules/detector.h"

namespace portwatch::agent::rules {

std::unique_ptr<Detector> MakeUnexpectedListener(const DetectorsConfig& config);
std::unique_ptr<Detector> MakeDynamicRangeListener(const DetectorsConfig& config);
std::unique_ptr<Detector> MakeServiceOwner(const DetectorsConfig& config);
std::unique_ptr<Detector> MakeSensitiveExposed(const DetectorsConfig& config);
std::unique_ptr<Detector> MakeBackdoorPort(const DetectorsConfig& config);
std::unique_ptr<Detector> MakeSuspiciousExe(const DetectorsConfig& config);
std::unique_ptr<Detector> MakeRawSocket(const DetectorsConfig& config);
std::unique_ptr<Detector> MakeFanOut(const DetectorsConfig& config);
std::unique_ptr<Detector> MakeSynFlood(const DetectorsConfig& config);
std::unique_ptr<Detector> MakePrivilegedPort(const DetectorsConfig& config);
std::unique_ptr<Detector> MakeNewOutbound(const DetectorsConfig& config);

// Every enabled detector, in the order above.
std::vector<std::unique_ptr<Detector>> MakeDetectors(const DetectorsConfig& config);

}  // namespace portwatch::agent::rules
