#include "ui/run_groups.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "ui/run_comparison.h"

namespace behemoth::ui {
namespace {

constexpr const char* kTagPrefix = "tag:";

std::string valueOf(const std::map<std::string, std::string>& settings, const RunRecord& run, const std::string& field) {
  if (field.rfind(kTagPrefix, 0) == 0) {
    const std::string tag = field.substr(std::char_traits<char>::length(kTagPrefix));
    const bool has = std::find(run.tags.begin(), run.tags.end(), tag) != run.tags.end();
    return has ? tag : "not " + tag;
  }
  if (field == "tags") {
    std::string joined;
    for (const std::string& tag : run.tags) joined += (joined.empty() ? "" : ",") + tag;
    return joined.empty() ? "(no tags)" : joined;
  }
  const auto found = settings.find(field);
  return found == settings.end() ? "–" : found->second;
}

}  // namespace

QString RunGroup::label() const {
  const auto count = static_cast<int>(members.size());
  return QStringLiteral("%1 (%2 run%3)").arg(value).arg(count).arg(count == 1 ? "" : "s");
}

QStringList groupableFields(const std::vector<RunDetails>& runs) {
  std::map<std::string, std::set<std::string>> values;
  for (const RunDetails& details : runs) {
    for (const auto& [key, value] : resolvedSettings(details.run)) values[key].insert(value);
  }
  QStringList fields;
  for (const auto& [key, distinct] : values) {
    // A field absent from some runs differs from them too.
    std::size_t present = 0;
    for (const RunDetails& details : runs) present += resolvedSettings(details.run).count(key);
    if (distinct.size() > 1 || (present < runs.size() && present > 0)) fields << QString::fromStdString(key);
  }
  fields << QStringLiteral("tags");
  // A tag some runs have and others not: those with it against those without.
  std::map<std::string, std::size_t> tagged;
  for (const RunDetails& details : runs) {
    for (const std::string& tag : std::set<std::string>(details.run.tags.begin(), details.run.tags.end())) ++tagged[tag];
  }
  for (const auto& [tag, count] : tagged) {
    if (count < runs.size()) fields << QString::fromStdString(kTagPrefix + tag);
  }
  return fields;
}

std::vector<RunGroup> groupRuns(const std::vector<RunDetails>& runs, const QString& field) {
  std::vector<RunGroup> groups;
  const std::string key = field.toStdString();
  for (int r = 0; r < static_cast<int>(runs.size()); ++r) {
    const QString value = QString::fromStdString(valueOf(resolvedSettings(runs[r].run), runs[r].run, key));
    auto group = std::find_if(groups.begin(), groups.end(), [&](const RunGroup& g) { return g.value == value; });
    if (group == groups.end()) {
      groups.push_back({value, {}});
      group = groups.end() - 1;
    }
    group->members.push_back(r);
  }
  return groups;
}

GroupCurve groupCurve(const std::vector<const QVector<double>*>& xs, const std::vector<const QVector<double>*>& ys) {
  GroupCurve curve;
  if (xs.empty() || xs.size() != ys.size()) return curve;
  // Walk every member's points in step: an x is kept when each member has a point there.
  std::vector<int> at(xs.size(), 0);
  const QVector<double>& first = *xs.front();
  for (int k = 0; k < std::min(first.size(), ys.front()->size()); ++k) {
    const double x = first[k];
    double sum = 0, low = 0, high = 0;
    bool everyone = true;
    for (std::size_t m = 0; m < xs.size() && everyone; ++m) {
      const QVector<double>& mx = *xs[m];
      const int n = std::min(mx.size(), ys[m]->size());
      while (at[m] < n && mx[at[m]] < x) ++at[m];
      if (at[m] >= n || mx[at[m]] != x) {
        everyone = false;
        break;
      }
      const double y = (*ys[m])[at[m]];
      sum += y;
      low = m == 0 ? y : std::min(low, y);
      high = m == 0 ? y : std::max(high, y);
    }
    if (!everyone) continue;
    curve.x.append(x);
    curve.mean.append(sum / double(xs.size()));
    curve.low.append(low);
    curve.high.append(high);
  }
  return curve;
}

}  // namespace behemoth::ui
