// Entry point of the Studio's widget tests: one QApplication, offscreen unless told otherwise
// (ctest sets QT_QPA_PLATFORM=offscreen; test discovery at build time does not).
#include <QApplication>
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
