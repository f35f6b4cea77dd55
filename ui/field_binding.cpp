#include "ui/field_binding.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLineEdit>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QStringList>
#include <QStyle>

#include "ui/project_document.h"

namespace behemoth::ui {
namespace {

template <typename T>
T valueOr(const nlohmann::json& value, T fallback) {
  try {
    return value.is_null() ? fallback : value.get<T>();
  } catch (const nlohmann::json::exception&) {
    return fallback;  // the wrong type: the analysis names the field
  }
}

template <typename T>
T valueOr(const ProjectDocument* document, const std::string& pointer, T fallback) {
  return valueOr(document->value(pointer), fallback);
}

}  // namespace

void bindSpin(QSpinBox* spin, ProjectDocument* document, const std::string& pointer, int fallback) {
  bindSpinOrElse(spin, document, pointer, FallbackValue([fallback] { return nlohmann::json(fallback); }));
}

void bindSpinOrElse(QSpinBox* spin, ProjectDocument* document, const std::string& pointer, const FallbackValue& fallback) {
  auto refresh = [=] {
    const QSignalBlocker block(spin);
    // Only a different value is set: re-setting the one being typed would reformat the text and
    // move the cursor past the suffix mid-edit.
    const int value = valueOr(document, pointer, valueOr(fallback(), spin->value()));
    if (spin->value() != value) spin->setValue(value);
  };
  refresh();
  QObject::connect(document, &ProjectDocument::changed, spin, refresh);
  QObject::connect(spin, qOverload<int>(&QSpinBox::valueChanged), document,
                   [=](int value) { document->setValue(pointer, value); });
}

void bindDouble(QDoubleSpinBox* spin, ProjectDocument* document, const std::string& pointer, double fallback) {
  auto refresh = [=] {
    const QSignalBlocker block(spin);
    // As above: typing "0.25" must not become "0.20" when "0.2" is written back mid-edit.
    const double value = valueOr(document, pointer, fallback);
    if (spin->value() != spin->valueFromText(spin->textFromValue(value))) spin->setValue(value);
  };
  refresh();
  QObject::connect(document, &ProjectDocument::changed, spin, refresh);
  QObject::connect(spin, qOverload<double>(&QDoubleSpinBox::valueChanged), document,
                   [=](double value) { document->setValue(pointer, value); });
}

void bindCheck(QCheckBox* check, ProjectDocument* document, const std::string& pointer, bool fallback) {
  auto refresh = [=] {
    const QSignalBlocker block(check);
    check->setChecked(valueOr(document, pointer, fallback));
  };
  refresh();
  QObject::connect(document, &ProjectDocument::changed, check, refresh);
  QObject::connect(check, &QCheckBox::toggled, document, [=](bool value) { document->setValue(pointer, value); });
}

void bindCombo(QComboBox* combo, ProjectDocument* document, const std::string& pointer, const nlohmann::json& fallback) {
  bindComboOrElse(combo, document, pointer, FallbackValue([fallback] { return fallback; }));
}

void bindComboOrElse(QComboBox* combo, ProjectDocument* document, const std::string& pointer, const FallbackValue& fallback) {
  auto refresh = [=] {
    const QSignalBlocker block(combo);
    nlohmann::json value = document->value(pointer, fallback());
    const QString text = value.is_string() ? QString::fromStdString(value.get<std::string>()) : QString::fromStdString(value.dump());
    const int index = combo->findData(text);
    if (index >= 0) {
      combo->setCurrentIndex(index);
    } else if (combo->isEditable()) {
      combo->setEditText(text);
    }
  };
  refresh();
  QObject::connect(document, &ProjectDocument::changed, combo, refresh);
  auto commit = [=](const QString& text) {
    bool is_number = false;
    const int number = text.toInt(&is_number);
    const bool numeric_field = fallback().is_number();
    document->setValue(pointer, numeric_field && is_number ? nlohmann::json(number) : nlohmann::json(text.toStdString()));
  };
  QObject::connect(combo, qOverload<int>(&QComboBox::activated), document, [=](int index) {
    commit(combo->itemData(index).isValid() ? combo->itemData(index).toString() : combo->itemText(index));
  });
  if (combo->isEditable()) {
    QObject::connect(combo->lineEdit(), &QLineEdit::editingFinished, document, [=] {
      const int index = combo->findText(combo->currentText());
      commit(index >= 0 && combo->itemData(index).isValid() ? combo->itemData(index).toString() : combo->currentText());
    });
  }
}

void bindText(QLineEdit* edit, ProjectDocument* document, const std::string& pointer, const QString& fallback) {
  auto refresh = [=] {
    const QSignalBlocker block(edit);
    const nlohmann::json value = document->value(pointer);
    const QString text = value.is_string() ? QString::fromStdString(value.get<std::string>()) : fallback;
    if (edit->text() != text) edit->setText(text);
  };
  refresh();
  QObject::connect(document, &ProjectDocument::changed, edit, refresh);
  QObject::connect(edit, &QLineEdit::editingFinished, document,
                   [=] { document->setValue(pointer, edit->text().toStdString()); });
}

void bindIntList(QLineEdit* edit, ProjectDocument* document, const std::string& pointer) {
  auto refresh = [=] {
    const QSignalBlocker block(edit);
    const nlohmann::json value = document->value(pointer);
    QStringList entries;
    if (value.is_array()) {
      for (const nlohmann::json& entry : value) {
        entries << (entry.is_string() ? QString::fromStdString(entry.get<std::string>()) : QString::fromStdString(entry.dump()));
      }
    }
    const QString text = entries.join(QStringLiteral(","));
    if (edit->text() != text) edit->setText(text);
  };
  refresh();
  QObject::connect(document, &ProjectDocument::changed, edit, refresh);
  QObject::connect(edit, &QLineEdit::editingFinished, document, [=] {
    const QString text = edit->text().trimmed();
    if (text.isEmpty()) {
      document->removeValue(pointer);
      return;
    }
    nlohmann::json list = nlohmann::json::array();
    for (const QString& entry : text.split(QLatin1Char(','))) {
      bool whole = false;
      const int number = entry.trimmed().toInt(&whole);
      list.push_back(whole ? nlohmann::json(number) : nlohmann::json(entry.trimmed().toStdString()));
    }
    document->setValue(pointer, list);
  });
}

void markField(QWidget* widget, const QString& message) {
  const bool invalid = !message.isEmpty();
  if (widget->property("invalid").toBool() == invalid && (!invalid || widget->toolTip() == message)) return;
  // The widget's own tooltip comes back when the mark is cleared.
  if (!widget->property("baseToolTip").isValid()) widget->setProperty("baseToolTip", widget->toolTip());
  widget->setProperty("invalid", invalid);
  widget->setToolTip(invalid ? message : widget->property("baseToolTip").toString());
  // Re-polish so the stylesheet's [invalid="true"] rule applies.
  widget->style()->unpolish(widget);
  widget->style()->polish(widget);
  widget->update();
}

QWidget* findField(const FieldWidgets& fields, const std::string& field) {
  const auto found = fields.find(field);
  return found == fields.end() ? nullptr : found->second;
}

void markOnly(const FieldWidgets& fields, const std::string& field, const QString& message) {
  for (const auto& [name, widget] : fields) markField(widget, name == field ? message : QString());
}

}  // namespace behemoth::ui
