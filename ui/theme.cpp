#include "ui/theme.h"

#include <QApplication>
#include <QFile>
#include <QPalette>
#include <QStyleFactory>

// Resources compiled into a static library are registered explicitly (outside any namespace).
static void initStudioResources() { Q_INIT_RESOURCE(studio); }

namespace behemoth::ui {
namespace {

QPalette lightPalette() {
  QPalette p;
  p.setColor(QPalette::Window, QColor(0xF3, 0xF4, 0xF6));
  p.setColor(QPalette::WindowText, QColor(0x11, 0x18, 0x27));
  p.setColor(QPalette::Base, QColor(0xFF, 0xFF, 0xFF));
  p.setColor(QPalette::AlternateBase, QColor(0xF9, 0xFA, 0xFB));
  p.setColor(QPalette::Text, QColor(0x11, 0x18, 0x27));
  p.setColor(QPalette::PlaceholderText, QColor(0x6B, 0x72, 0x80));
  p.setColor(QPalette::Button, QColor(0xFF, 0xFF, 0xFF));
  p.setColor(QPalette::ButtonText, QColor(0x11, 0x18, 0x27));
  p.setColor(QPalette::Highlight, QColor(0x25, 0x63, 0xEB));
  p.setColor(QPalette::HighlightedText, Qt::white);
  p.setColor(QPalette::ToolTipBase, QColor(0x11, 0x18, 0x27));
  p.setColor(QPalette::ToolTipText, Qt::white);
  p.setColor(QPalette::Mid, QColor(0xD1, 0xD5, 0xDB));
  p.setColor(QPalette::Midlight, QColor(0xE5, 0xE7, 0xEB));
  p.setColor(QPalette::Link, QColor(0x25, 0x63, 0xEB));
  p.setColor(QPalette::Disabled, QPalette::Text, QColor(0x9C, 0xA3, 0xAF));
  p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(0x9C, 0xA3, 0xAF));
  p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(0x9C, 0xA3, 0xAF));
  return p;
}

QPalette darkPalette() {
  QPalette p;
  p.setColor(QPalette::Window, QColor(0x17, 0x1B, 0x22));
  p.setColor(QPalette::WindowText, QColor(0xE5, 0xE7, 0xEB));
  p.setColor(QPalette::Base, QColor(0x0F, 0x12, 0x17));
  p.setColor(QPalette::AlternateBase, QColor(0x1C, 0x21, 0x29));
  p.setColor(QPalette::Text, QColor(0xE5, 0xE7, 0xEB));
  p.setColor(QPalette::PlaceholderText, QColor(0x8B, 0x94, 0xA3));
  p.setColor(QPalette::Button, QColor(0x23, 0x29, 0x33));
  p.setColor(QPalette::ButtonText, QColor(0xE5, 0xE7, 0xEB));
  p.setColor(QPalette::Highlight, QColor(0x3B, 0x82, 0xF6));
  p.setColor(QPalette::HighlightedText, Qt::white);
  p.setColor(QPalette::ToolTipBase, QColor(0x23, 0x29, 0x33));
  p.setColor(QPalette::ToolTipText, QColor(0xE5, 0xE7, 0xEB));
  p.setColor(QPalette::Mid, QColor(0x37, 0x41, 0x51));
  p.setColor(QPalette::Midlight, QColor(0x2A, 0x31, 0x3C));
  p.setColor(QPalette::Dark, QColor(0x0B, 0x0D, 0x11));
  p.setColor(QPalette::Light, QColor(0x37, 0x41, 0x51));
  p.setColor(QPalette::Link, QColor(0x60, 0xA5, 0xFA));
  p.setColor(QPalette::Disabled, QPalette::Text, QColor(0x6B, 0x72, 0x80));
  p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(0x6B, 0x72, 0x80));
  p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(0x6B, 0x72, 0x80));
  return p;
}

QString styleSheet(Theme theme) {
  QFile file(theme == Theme::dark ? QStringLiteral(":/themes/dark.qss") : QStringLiteral(":/themes/light.qss"));
  if (!file.open(QIODevice::ReadOnly | QIODevice::Text)) return {};
  return QString::fromUtf8(file.readAll());
}

}  // namespace

Theme themeFromName(const QString& name) { return name.compare("dark", Qt::CaseInsensitive) == 0 ? Theme::dark : Theme::light; }

QString themeName(Theme theme) { return theme == Theme::dark ? QStringLiteral("dark") : QStringLiteral("light"); }

void applyTheme(QApplication& app, Theme theme) {
  initStudioResources();
  app.setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
  app.setPalette(theme == Theme::dark ? darkPalette() : lightPalette());
  app.setStyleSheet(styleSheet(theme));
}

}  // namespace behemoth::ui
