// Two-way bindings between editor widgets and one JSON pointer of the ProjectDocument: the widget
// shows the document's value (undo, redo and open included) and every user edit becomes one
// undoable document edit. Also marks a widget with an engine message (invalid field).
#pragma once

#include <QString>

#include <nlohmann/json.hpp>
#include <string>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLineEdit;
class QSpinBox;
class QWidget;

namespace behemoth::ui {

class ProjectDocument;

void bindSpin(QSpinBox* spin, ProjectDocument* document, const std::string& pointer, int fallback);
void bindDouble(QDoubleSpinBox* spin, ProjectDocument* document, const std::string& pointer, double fallback);
void bindCheck(QCheckBox* check, ProjectDocument* document, const std::string& pointer, bool fallback);
// Items' data (Qt::UserRole) hold the JSON values (as text: strings, or numbers via toInt()).
void bindCombo(QComboBox* combo, ProjectDocument* document, const std::string& pointer, const nlohmann::json& fallback);
void bindText(QLineEdit* edit, ProjectDocument* document, const std::string& pointer, const QString& fallback);

// Red border and the message as tooltip (empty message clears the mark).
void markField(QWidget* widget, const QString& message);

}  // namespace behemoth::ui
