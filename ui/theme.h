// The light and dark themes: the Fusion style, a palette, and a stylesheet from resources/themes.
#pragma once

#include <QString>

class QApplication;

namespace behemoth::ui {

enum class Theme { light, dark };

Theme themeFromName(const QString& name);  // "dark" -> dark, anything else light
QString themeName(Theme theme);
void applyTheme(QApplication& app, Theme theme);

}  // namespace behemoth::ui
