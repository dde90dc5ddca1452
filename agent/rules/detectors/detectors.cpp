#include "agent/rules/detectors/detectors.h"

namespace portwatch::agent::rules {

std::vector<std::unique_ptr<Detector>> MakeDetectors(const DetectorsConfig& config) {
  std::vector<std::unique_ptr<Detector>> detectors;
  for (auto make : {MakeUnexpectedListener, MakeDynamicRangeListener, MakeServiceOwner,
                    MakeSensitiveExposed, MakeBackdoorPort, MakeSuspiciousExe, MakeRawSocket,
                    MakeFanOut, MakeSynFlood, MakePrivilegedPort, MakeNewOutbound}) {
    std::unique_ptr<Detector> detector = make(config);
    if (detector->settings().enabled) detectors.push_back(std::move(detector));
  }
  return detectors;
}

}  // namespace portwatch::agent::rules
