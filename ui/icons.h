// The Studio's icons, drawn with QPainter at every size they are shown at (and at 2x and 3x for
// high-DPI screens), so they stay sharp without image files.
#pragma once

#include <QColor>
#include <QIcon>

namespace behemoth::ui {

enum class Glyph { app, model, mesh, plan, run, stop, history, compare };

QIcon glyphIcon(Glyph glyph, const QColor& color);

}  // namespace behemoth::ui
