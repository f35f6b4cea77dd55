#include "ui/chart_style.h"

#include <qcustomplot.h>

#include <array>

namespace behemoth::ui {

QColor seriesColor(int index) {
  static const std::array<QColor, 7> colors = {QColor(0x00, 0x72, 0xB2), QColor(0xE6, 0x9F, 0x00), QColor(0x00, 0x9E, 0x73),
                                               QColor(0xCC, 0x79, 0xA7), QColor(0x56, 0xB4, 0xE9), QColor(0xD5, 0x5E, 0x00),
                                               QColor(0xF0, 0xE4, 0x42)};
  return colors[static_cast<std::size_t>(index) % colors.size()];
}

QColor memoryCategoryColor(int category) {
  static const std::array<QColor, 5> colors = {QColor(0x3B, 0x82, 0xF6),   // parameters
                                               QColor(0x8B, 0x5C, 0xF6),   // gradients
                                               QColor(0xF5, 0x9E, 0x0B),   // optimizer states
                                               QColor(0x10, 0xB9, 0x81),   // activations
                                               QColor(0x94, 0xA3, 0xB8)};  // buffers
  return colors[static_cast<std::size_t>(category) % colors.size()];
}

QColor memoryTierColor(int tier) {
  static const std::array<QColor, 3> colors = {QColor(0x00, 0x72, 0xB2),   // device: blue
                                               QColor(0xE6, 0x9F, 0x00),   // host: orange
                                               QColor(0xCC, 0x4B, 0x9B)};  // disk: magenta
  return colors[static_cast<std::size_t>(tier) % colors.size()];
}

namespace {
void styleAxis(QCPAxis* axis, const QColor& text, const QColor& line, const QColor& grid, const QFont& font) {
  axis->setBasePen(QPen(line));
  axis->setTickPen(QPen(line));
  axis->setSubTickPen(QPen(line));
  axis->setTickLabelColor(text);
  axis->setLabelColor(text);
  axis->setTickLabelFont(font);
  QFont label_font = font;
  label_font.setBold(false);
  axis->setLabelFont(label_font);
  axis->grid()->setPen(QPen(grid, 1, Qt::DotLine));
  axis->grid()->setSubGridVisible(false);
  axis->grid()->setZeroLinePen(Qt::NoPen);
}
}  // namespace

void styleChart(QCustomPlot* plot, const QPalette& palette) {
  const QColor background = palette.color(QPalette::Base);
  const QColor text = palette.color(QPalette::Text);
  QColor line = text;
  line.setAlpha(140);
  QColor grid = text;
  grid.setAlpha(45);
  plot->setBackground(background);
  plot->axisRect()->setBackground(background);
  QFont font = plot->font();
  font.setPointSizeF(9);
  for (QCPAxis* axis : plot->axisRect()->axes()) styleAxis(axis, text, line, grid, font);
  QColor legend_background = background;
  legend_background.setAlpha(215);  // curves stay visible under the legend
  plot->legend->setBrush(QBrush(legend_background));
  plot->legend->setBorderPen(QPen(grid));
  plot->legend->setTextColor(text);
  plot->legend->setFont(font);
}

void replotIfSized(QCustomPlot* plot, bool queued) {
  if (plot->width() <= 0 || plot->height() <= 0 || plot->testAttribute(Qt::WA_PendingResizeEvent)) return;
  plot->replot(queued ? QCustomPlot::rpQueuedReplot : QCustomPlot::rpRefreshHint);
}

void setAxisTitle(QCPAxis* axis, const QString& title) { axis->setLabel(title); }

QCustomPlot* newTitledChart(QWidget* parent, const QString& title, const QString& x_label, const QString& y_label) {
  auto* plot = new QCustomPlot(parent);
  plot->plotLayout()->insertRow(0);
  plot->plotLayout()->addElement(0, 0, new QCPTextElement(plot, title, QFont(parent->font().family(), 10, QFont::Bold)));
  plot->xAxis->setLabel(x_label);
  plot->yAxis->setLabel(y_label);
  plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  return plot;
}

void restyleTitledChart(QCustomPlot* plot, const QPalette& palette) {
  styleChart(plot, palette);
  if (auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->element(0, 0))) {
    title->setTextColor(palette.color(QPalette::Text));
  }
  replotIfSized(plot);
}

}  // namespace behemoth::ui
