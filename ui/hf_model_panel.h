// The model picker's "Hugging Face model" box: what a model directory holds (sizes, parameter
// count, stored dtype and bytes, shards, tokenizer files), read before anything loads, or the
// engine's one line when the directory cannot be used.
#pragma once

#include <QGroupBox>

#include <map>

#include "ui/hf_model_summary.h"

class QFormLayout;
class QLabel;
class QPushButton;

namespace behemoth::ui {

class HfModelPanel : public QGroupBox {
  Q_OBJECT

 public:
  explicit HfModelPanel(QWidget* parent = nullptr);

  void showSummary(const HfModelSummary& summary);
  void clearSummary();
  // The engine's message for a directory that was refused (empty: none).
  void showError(const QString& message);
  // The offer to set data.tokenizer to the directory: shown only when `offered`.
  void offerTokenizer(bool offered);

  bool hasSummary() const { return has_summary_; }
  const QString& directory() const { return directory_; }
  // "directory", "architecture", "sizes", "parameters", "dtype", "weights", "shards", "tokenizer".
  QLabel* fact(const QString& name) const;
  QLabel* errorLabel() const { return error_; }
  QPushButton* tokenizerButton() const { return use_tokenizer_; }

 signals:
  void useTokenizer(const QString& dir);

 private:
  void refreshVisibility();

  QFormLayout* form_;
  std::map<QString, QLabel*> facts_;
  QLabel* error_;
  QPushButton* use_tokenizer_;
  QString directory_;
  bool has_summary_ = false;
  bool tokenizer_offered_ = false;
};

}  // namespace behemoth::ui
