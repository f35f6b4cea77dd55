// Two-way bindings between editor widgets and one JSON pointer of the ProjectDocument: the widget
// shows the document's value (undo, redo and open included) and every user edit becomes one
// undoable document edit. Also marks a widget with an engine message (invalid field).
#pragma once

#include <QString>

#include <nlohmann/json.hpp>
#include <functional>
#include <map>
#include <string>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLineEdit;
class QSpinBox;
class QWidget;

namespace behemoth::ui {

class ProjectDocument;

// What a binding shows while the document has no value at its pointer, asked at every refresh
// (the model picker's sizes fall back to a Hugging Face config.json's).
using FallbackValue = std::function<nlohmann::json()>;

void bindSpin(QSpinBox* spin, ProjectDocument* document, const std::string& pointer, int fallback);
void bindSpinOrElse(QSpinBox* spin, ProjectDocument* document, const std::string& pointer, const FallbackValue& fallback);
void bindDouble(QDoubleSpinBox* spin, ProjectDocument* document, const std::string& pointer, double fallback);
void bindCheck(QCheckBox* check, ProjectDocument* document, const std::string& pointer, bool fallback);
// Items' data (Qt::UserRole) hold the JSON values (as text: strings, or numbers via toInt()).
void bindCombo(QComboBox* combo, ProjectDocument* document, const std::string& pointer, const nlohmann::json& fallback);
void bindComboOrElse(QComboBox* combo, ProjectDocument* document, const std::string& pointer, const FallbackValue& fallback);
void bindText(QLineEdit* edit, ProjectDocument* document, const std::string& pointer, const QString& fallback);
// A comma-separated list of whole numbers ("4,4,2,2") as a JSON array; empty text removes the key.
// An entry that is not a whole number is written as text, so the engine names it.
void bindIntList(QLineEdit* edit, ProjectDocument* document, const std::string& pointer);

// Red border and the message as tooltip (empty message clears the mark).
void markField(QWidget* widget, const QString& message);

// A view's editors by project field ("parallel.tp"): to find one, and to mark the one the engine
// named while clearing the others.
using FieldWidgets = std::map<std::string, QWidget*>;
QWidget* findField(const FieldWidgets& fields, const std::string& field);
void markOnly(const FieldWidgets& fields, const std::string& field, const QString& message);

}  // namespace behemoth::ui
