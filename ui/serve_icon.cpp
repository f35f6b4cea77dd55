#include "ui/serve_icon.h"

#include <QPainter>
#include <QPixmap>

namespace behemoth::ui {

QIcon serveIcon(const QColor& color) {
  QIcon icon;
  for (int size : {16, 20, 24, 32, 48, 64, 128, 256}) {
    QPixmap pixmap(size, size);
    pixmap.fill(Qt::transparent);
    QPainter p(&pixmap);
    p.setRenderHint(QPainter::Antialiasing);
    p.scale(size / 24.0, size / 24.0);  // a 24x24 logical canvas, as ui/icons.cpp
    p.setPen(QPen(color, 1.8, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
    p.setBrush(Qt::NoBrush);
    for (int rack = 0; rack < 2; ++rack) {
      const double y = 4 + rack * 8;
      p.drawRoundedRect(QRectF(3, y, 13, 6), 1.5, 1.5);
      p.setBrush(color);
      p.drawEllipse(QPointF(6.5, y + 3), 1, 1);
      p.setBrush(Qt::NoBrush);
    }
    // The answer going out: two arcs to the right of the racks.
    p.drawArc(QRectF(14, 6, 6, 10), -60 * 16, 120 * 16);
    p.drawArc(QRectF(15, 3, 8, 16), -60 * 16, 120 * 16);
    p.drawLine(QPointF(9.5, 18), QPointF(9.5, 21));
    p.drawLine(QPointF(5, 21), QPointF(14, 21));
    p.end();
    icon.addPixmap(pixmap);
  }
  return icon;
}

}  // namespace behemoth::ui
