// Colours and styling shared by every chart, so plots follow the light or dark theme.
#pragma once

#include <QColor>
#include <QPalette>
#include <QString>

class QCustomPlot;
class QCPAxis;
class QWidget;

namespace behemoth::ui {

// Distinct, colour-blind-friendly series colours (Okabe-Ito order), cycled.
QColor seriesColor(int index);

// Memory categories, stacked bottom to top.
QColor memoryCategoryColor(int category);

// Memory tiers of ZeRO-3 chunks (index: memory/chunk_placement.h Tier: device, host, disk).
QColor memoryTierColor(int tier);

// Background, grid, axis and text colours from the palette; fonts sized for reading.
void styleChart(QCustomPlot* plot, const QPalette& palette);
// Replots unless the plot was never laid out (a page never shown): its first resize replots it.
void replotIfSized(QCustomPlot* plot, bool queued = false);
// A chart of a grid of charts: a bold title row above the axes, axis labels, the legend's inset in
// the top right corner, drag and zoom. The parent owns it.
QCustomPlot* newTitledChart(QWidget* parent, const QString& title, const QString& x_label, const QString& y_label);
// styleChart, the title's colour too, then a replot.
void restyleTitledChart(QCustomPlot* plot, const QPalette& palette);
// A plot whose y axis starts at zero with a unit label ("GB", "tokens/s").
void setAxisTitle(QCPAxis* axis, const QString& title);

}  // namespace behemoth::ui
