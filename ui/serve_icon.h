// The Serve page's sidebar icon (a server answering: two racks and a signal), drawn like the
// other glyphs of ui/icons.h at every size it is shown at.
#pragma once

#include <QColor>
#include <QIcon>

namespace behemoth::ui {

QIcon serveIcon(const QColor& color);

}  // namespace behemoth::ui
