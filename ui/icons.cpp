#include "ui/icons.h"

#include <QPainter>
#include <QPainterPath>
#include <QPixmap>

namespace behemoth::ui {
namespace {

// Draws on a 24x24 logical canvas.
void drawGlyph(QPainter& p, Glyph glyph, const QColor& color) {
  QPen pen(color, 1.8, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin);
  p.setPen(pen);
  p.setBrush(Qt::NoBrush);
  switch (glyph) {
    case Glyph::app: {
      p.setPen(Qt::NoPen);
      p.setBrush(QColor(0x25, 0x63, 0xEB));
      p.drawRoundedRect(QRectF(1, 1, 22, 22), 5, 5);
      p.setBrush(Qt::white);
      for (int r = 0; r < 3; ++r) {
        for (int c = 0; c < 3; ++c) p.drawRoundedRect(QRectF(5 + c * 5.2, 5 + r * 5.2, 3.8, 3.8), 1, 1);
      }
      break;
    }
    case Glyph::model:
      for (int i = 0; i < 3; ++i) p.drawRoundedRect(QRectF(4, 4 + i * 6, 16, 4), 1.5, 1.5);
      break;
    case Glyph::mesh:
      for (int r = 0; r < 2; ++r) {
        for (int c = 0; c < 2; ++c) p.drawRoundedRect(QRectF(4 + c * 9, 4 + r * 9, 7, 7), 1.5, 1.5);
      }
      break;
    case Glyph::plan:
      for (int i = 0; i < 3; ++i) {
        const double y = 6 + i * 6;
        p.drawLine(QPointF(4, y), QPointF(20, y));
        p.setBrush(color);
        p.drawEllipse(QPointF(i == 1 ? 15 : 8 + i * 3, y), 2.2, 2.2);
        p.setBrush(Qt::NoBrush);
      }
      break;
    case Glyph::run: {
      QPainterPath path;
      path.moveTo(7, 4);
      path.lineTo(19, 12);
      path.lineTo(7, 20);
      path.closeSubpath();
      p.setBrush(color);
      p.drawPath(path);
      break;
    }
    case Glyph::stop:
      p.setBrush(color);
      p.drawRoundedRect(QRectF(6, 6, 12, 12), 2, 2);
      break;
    case Glyph::history:
      p.drawEllipse(QPointF(12, 12), 8.5, 8.5);
      p.drawLine(QPointF(12, 12), QPointF(12, 7));
      p.drawLine(QPointF(12, 12), QPointF(15.5, 14));
      break;
    case Glyph::compare:
      p.drawLine(QPointF(4, 20), QPointF(20, 20));
      p.drawPolyline(QPolygonF({QPointF(4, 16), QPointF(9, 9), QPointF(14, 12), QPointF(20, 5)}));
      p.setPen(QPen(color, 1.8, Qt::DashLine, Qt::RoundCap));
      p.drawPolyline(QPolygonF({QPointF(4, 18), QPointF(9, 14), QPointF(14, 15), QPointF(20, 10)}));
      break;
  }
}

}  // namespace

QIcon glyphIcon(Glyph glyph, const QColor& color) {
  QIcon icon;
  for (int size : {16, 20, 24, 32, 48, 64, 128, 256}) {
    QPixmap pixmap(size, size);
    pixmap.fill(Qt::transparent);
    QPainter painter(&pixmap);
    painter.setRenderHint(QPainter::Antialiasing);
    painter.scale(size / 24.0, size / 24.0);
    drawGlyph(painter, glyph, color);
    painter.end();
    icon.addPixmap(pixmap);
  }
  return icon;
}

}  // namespace behemoth::ui
