"""The corpus: notebooks as a data scientist writes them, in a readable percent format.

`make_corpus.py` turns each entry into tests/corpus/notebooks/<name>/<name>.ipynb
(plus its extra files). A line `#%%` starts a code cell, `#%% md` a markdown
cell, `#%% tags=a,b` a tagged code cell. Only scikit-learn's bundled or
generated datasets: nothing downloads. Every step prints the values that
matter, rounded, so that a pipeline run can be compared with a top-to-bottom
run of the same notebook by their printed text.
"""

from __future__ import annotations

NOTEBOOKS: dict[str, dict] = {}


def nb(name: str, source: str, files: dict[str, str] | None = None) -> None:
    """Register notebook `name`; `files` maps a path relative to its folder to its text."""
    NOTEBOOKS[name] = {"source": source, "files": dict(files or {})}


nb("iris_logreg", r'''
#%% md
# Iris: a scaled logistic regression

A first baseline on the iris measurements, before trying anything fancier.
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
#%%
%%params
test_size = 0.3
C = 1.0
seed = 0
#%%
%%step load
iris = load_iris(as_frame=True)
df = iris.frame
df["species"] = df["target"].map(dict(enumerate(iris.target_names)))
print(df.shape)
print(df["species"].value_counts().sort_index().to_string())
#%%
df.head()
#%% md
## Split, fit, evaluate
#%%
%%step split
X = df[iris.feature_names]
y = df["target"]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=test_size, random_state=seed, stratify=y
)
print(len(X_train), len(X_test))
#%%
%%step train
model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500))
model.fit(X_train, y_train)
print("coef:", np.round(model[-1].coef_, 6).tolist())
#%%
%%step evaluate
pred = model.predict(X_test)
print("accuracy:", round(accuracy_score(y_test, pred), 6))
print(confusion_matrix(y_test, pred))
''')


nb("wine_model_compare", r'''
#%% md
# Wine: random forest or SVM?

Two candidate models on the same folds, compared at the end.
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
#%%
%%step load
X, y = load_wine(return_X_y=True, as_frame=True)
cv = StratifiedKFold(n_splits=4, shuffle=True, random_state=1)
print(X.shape, np.bincount(y).tolist())
#%% md
## Candidate 1: a random forest
#%%
%%step forest
forest = RandomForestClassifier(n_estimators=40, random_state=0)
forest_scores = cross_val_score(forest, X, y, cv=cv)
print("forest:", np.round(forest_scores, 6).tolist())
#%% md
## Candidate 2: an RBF SVM on scaled features
#%%
%%step svm
svm = make_pipeline(StandardScaler(), SVC(C=3.0))
svm_scores = cross_val_score(svm, X, y, cv=cv)
print("svm:", np.round(svm_scores, 6).tolist())
#%%
%%step compare
table = pd.DataFrame({"forest": forest_scores, "svm": svm_scores})
print(table.agg(["mean", "std"]).round(6).to_string())
best = table.mean().idxmax()
print("best:", best)
#%%
table.round(4)
''')


nb("breast_cancer_gridsearch", r'''
#%% md
# Breast cancer: tune C, save the model, score it later

The tuned model goes to disk so the scoring step (or another notebook) can load it.
#%%
%load_ext mlpipe_jupyter
#%%
import joblib
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

MODEL_PATH = "model.joblib"
#%%
%%step data
X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=42, stratify=y
)
print(X_train.shape, X_test.shape)
#%%
%%step search
pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=2000))])
grid = GridSearchCV(pipe, {"clf__C": [0.1, 1.0, 10.0]}, cv=3)
grid.fit(X_train, y_train)
print(grid.best_params_)
print("cv score:", round(grid.best_score_, 6))
joblib.dump(grid.best_estimator_, MODEL_PATH)
print("saved", MODEL_PATH)
#%% md
## Score the saved model on the held-out set
#%%
%%step score
model = joblib.load(MODEL_PATH)
proba = model.predict_proba(X_test)[:, 1]
print("test auc:", round(roc_auc_score(y_test, proba), 6))
print("C of the saved model:", model.named_steps["clf"].C)
''')


nb("diabetes_features_csv", r'''
#%% md
# Diabetes: engineer features once, share them as a CSV
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_score

FEATURES = "features.csv"
#%%
%%step build
data = load_diabetes(as_frame=True)
df = data.frame.copy()
df["bmi_x_bp"] = df["bmi"] * df["bp"]
df["age_band"] = pd.cut(df["age"], bins=3, labels=["young", "mid", "old"])
df.to_csv(FEATURES, index=False)
print(df.shape)
#%%
%%step summary --after build
features = pd.read_csv(FEATURES)
print(features.groupby("age_band")["target"].mean().round(6).to_string())
#%%
%%step ridge
features = pd.read_csv(FEATURES)
X = pd.get_dummies(features.drop(columns="target"), columns=["age_band"], dtype=float)
y = features["target"]
scores = cross_val_score(Ridge(alpha=1.0), X, y, cv=5, scoring="r2")
print("r2 per fold:", np.round(scores, 6).tolist())
print("mean r2:", round(scores.mean(), 6))
''')


nb("digits_pca_knn", r'''
#%% md
# Digits: how many PCA components does k-NN need?
#%%
%load_ext mlpipe_jupyter
#%%
%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
#%%
%%step load
digits = load_digits()
X_train, X_test, y_train, y_test = train_test_split(
    digits.data, digits.target, test_size=0.3, random_state=0
)
print(X_train.shape)
#%%
%%step pca
pca = PCA(n_components=20, svd_solver="full").fit(X_train)
print(np.round(pca.explained_variance_ratio_[:5], 6).tolist())
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot(np.cumsum(pca.explained_variance_ratio_), marker="o")
ax.set_xlabel("components")
ax.set_ylabel("cumulative explained variance")
plt.show()
#%%
%%step knn
for k in (1, 3, 5):
    knn = KNeighborsClassifier(n_neighbors=k).fit(pca.transform(X_train), y_train)
    print(k, round(knn.score(pca.transform(X_test), y_test), 6))
''')


nb("monte_carlo_pi", r'''
#%% md
# Monte Carlo estimate of pi

Seed once at the top, then keep drawing: each batch continues the same stream.
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np

np.random.seed(2024)
N = 20000
#%%
%%step darts
xy = np.random.rand(N, 2)
inside = (xy ** 2).sum(axis=1) <= 1.0
pi_hat = 4 * inside.mean()
print("pi estimate:", round(pi_hat, 6))
#%%
%%step more_darts
xy2 = np.random.rand(N, 2)
pi_hat2 = 4 * ((xy2 ** 2).sum(axis=1) <= 1.0).mean()
print("second estimate:", round(pi_hat2, 6))
#%%
%%step combine
pooled = (pi_hat + pi_hat2) / 2
print("pooled:", round(pooled, 6), "error:", round(abs(pooled - np.pi), 6))
#%% md
Some measurement noise for the report.
#%%
%%step noise
jitter = np.random.normal(0, 0.01, size=3)
print(np.round(jitter, 6).tolist())
''')


nb("stdlib_random_walk", r'''
#%% md
# A random walk and a card deal with the standard library's `random`
#%%
%load_ext mlpipe_jupyter
#%%
import itertools
import random
import statistics

random.seed(7)


def coin():
    """One fair coin flip as +1 / -1."""
    return 1 if random.random() < 0.5 else -1
#%%
%%step walk
moves = [coin() for _ in range(1000)]
position = sum(moves)
print("final position:", position)
#%%
%%step deal
deck = [f"{rank}{suit}" for suit in "SHDC" for rank in "A23456789TJQK"]
random.shuffle(deck)
hand = deck[:5]
print("hand:", hand)
#%%
%%step gauss
samples = [random.gauss(0, 1) for _ in range(500)]
print("mean:", round(statistics.mean(samples), 6), "stdev:", round(statistics.stdev(samples), 6))
#%%
%%step report
print("walk max:", max(itertools.accumulate(moves)), "walk min:", min(itertools.accumulate(moves)))
print("hand size:", len(hand), "first card:", hand[0])
''')


nb("default_rng_passed", r'''
#%% md
# One `default_rng` handed from step to step
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
#%%
%%step make_rng
rng = np.random.default_rng(11)
warmup = rng.standard_normal(3)
print("warmup:", np.round(warmup, 6).tolist())
#%%
%%step sample
first = rng.integers(0, 1000, size=5)
print("first:", first.tolist())
#%%
%%step resample
second = rng.integers(0, 1000, size=5)
print("second:", second.tolist(), "same as first:", bool((first == second).all()))
#%%
%%step permute
order = rng.permutation(10)
print("order:", order.tolist())
''')


nb("bootstrap_ci", r'''
#%% md
# Bootstrap confidence intervals for a linear model
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
from sklearn.datasets import make_regression
from sklearn.linear_model import LinearRegression

np.random.seed(0)
B = 300
#%%
%%step data
X, y = make_regression(n_samples=120, n_features=3, noise=10.0, random_state=3)
coef = LinearRegression().fit(X, y).coef_
print("coef:", np.round(coef, 6).tolist())
#%%
%%step boot_slopes
boot = []
for _ in range(B):
    idx = np.random.choice(len(y), size=len(y), replace=True)
    boot.append(LinearRegression().fit(X[idx], y[idx]).coef_[0])
boot = np.array(boot)
lo, hi = np.percentile(boot, [2.5, 97.5])
print("95% CI for coef 0:", round(lo, 6), round(hi, 6))
#%%
%%step boot_r2
r2 = []
for _ in range(B):
    idx = np.random.randint(0, len(y), len(y))
    r2.append(LinearRegression().fit(X[idx], y[idx]).score(X, y))
print("median r2:", round(float(np.median(r2)), 6))
''')


nb("sales_groupby_pivot", r'''
#%% md
# Store sales: clean, join, pivot, rank
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import pandas as pd
#%%
%%step raw
rs = np.random.RandomState(0)
n = 300
sales = pd.DataFrame({
    "store": rs.choice(["north", "south", "east", "west"], n),
    "product": rs.choice(["apples", "bread", "cheese"], n),
    "month": rs.randint(1, 7, n),
    "units": rs.poisson(20, n),
    "price": np.round(rs.uniform(1, 5, n), 2),
    "note": "",
})
stores = pd.DataFrame({
    "store": ["north", "south", "east", "west"],
    "region": ["N", "S", "E", "W"],
    "size_m2": [120, 300, 180, 90],
})
print(sales.shape, stores.shape)
#%%
%%step clean
sales.drop(columns=["note"], inplace=True)
sales["revenue"] = sales["units"] * sales["price"]
sales = sales.merge(stores, on="store", how="left")
print(sales.columns.tolist())
#%%
sales.head()
#%%
%%step monthly
monthly = sales.pivot_table(index="month", columns="region", values="revenue", aggfunc="sum")
print(monthly.round(2).to_string())
#%%
%%step per_store
per_store = (
    sales.groupby(["store", "product"])
    .agg(units=("units", "sum"), revenue=("revenue", "sum"))
    .reset_index()
)
per_store["rev_per_m2"] = per_store["revenue"] / per_store["store"].map(
    stores.set_index("store")["size_m2"]
)
print(per_store.sort_values("revenue", ascending=False).head(5).round(4).to_string(index=False))
''')


nb("customer_risk_apply", r'''
#%% md
# Customer churn risk with `.apply` and a tunable weight
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import pandas as pd
from sklearn.datasets import make_classification


def tenure_bucket(months):
    if months < 12:
        return "new"
    if months < 36:
        return "regular"
    return "loyal"
#%%
%%step customers
X, y = make_classification(n_samples=400, n_features=4, n_informative=3, n_redundant=0,
                           random_state=5)
customers = pd.DataFrame(X, columns=["usage", "support_calls", "spend", "tenure_raw"])
customers["tenure"] = (np.abs(customers["tenure_raw"]) * 20).astype(int)
customers["churned"] = y
print(customers.shape)
#%%
%%step features
customers["bucket"] = customers["tenure"].apply(tenure_bucket)
customers["heavy"] = customers.apply(lambda r: r["usage"] > 0.5 and r["spend"] > 0, axis=1)
print(customers["bucket"].value_counts().sort_index().to_string())
print("heavy users:", int(customers["heavy"].sum()))
#%% md
The risk score: support calls weigh against spend. The weight is tuned below.
#%%
%%step scoring
weight = 0.5


def risk(row):
    return row["support_calls"] * weight - row["spend"]


print("risk of the first customer:", round(risk(customers.iloc[0]), 6))
#%%
%%step rank
weight = 2.0
customers["risk"] = customers.apply(risk, axis=1)
top = customers.nlargest(5, "risk")[["tenure", "bucket", "risk"]]
print(top.round(6).to_string())
print("churn among the top 50:", round(customers.nlargest(50, "risk")["churned"].mean(), 6))
''')


nb("threshold_tuning", r'''
#%% md
# Picking a decision threshold for a screening model

`decide` uses `cutoff`, which each later step sets to the value it wants to try.
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
#%%
%%step model
X, y = load_breast_cancer(return_X_y=True)
Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0, stratify=y)
clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(Xtr, ytr)
proba = clf.predict_proba(Xte)[:, 1]


def decide(p):
    return (p >= cutoff).astype(int)
#%%
%%step default_cut
cutoff = 0.5
print("recall@0.5:", round(recall_score(yte, decide(proba)), 6))
#%%
%%step screening_cut
cutoff = 0.95
pred = decide(proba)
print("recall@0.95:", round(recall_score(yte, pred), 6),
      "precision@0.95:", round(precision_score(yte, pred), 6))
''')


nb("report_classes", r'''
#%% md
# A small report with a `Metric` class defined where it is needed
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
from sklearn.datasets import load_wine
from sklearn.model_selection import cross_val_score
from sklearn.naive_bayes import GaussianNB
#%%
%%step formatting
def describe(obj):
    if isinstance(obj, Metric):
        return f"{obj.name} = {obj.value:.6f}"
    return f"note: {obj}"
#%%
%%step metrics
class Metric:
    def __init__(self, name, value):
        self.name = name
        self.value = float(value)


X, y = load_wine(return_X_y=True)
scores = cross_val_score(GaussianNB(), X, y, cv=5)
lines = [describe(Metric("nb_mean", scores.mean())), describe(Metric("nb_std", scores.std())),
         describe("5 folds")]
print("\n".join(lines))
''')


nb("experiment_queue", r'''
#%% md
# Working through a queue of Ridge experiments
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_score
#%%
%%step queue
experiments = [{"name": f"ridge_{a}", "alpha": a} for a in [0.01, 0.1, 1.0, 10.0]]
done = []
X, y = load_diabetes(return_X_y=True)
print("queued:", [e["name"] for e in experiments])
#%%
%%step run_first
current = experiments.pop(0)
score_first = cross_val_score(Ridge(alpha=current["alpha"]), X, y, cv=3).mean()
done.append((current["name"], round(score_first, 6)))
print(done[-1])
#%%
%%step run_second
def evaluate(exp):
    return exp["name"], round(cross_val_score(Ridge(alpha=exp["alpha"]), X, y, cv=3).mean(), 6)


done.append(evaluate(experiments.pop(0)))
print(done[-1])
#%%
%%step run_third
third_alpha = experiments.pop(0)["alpha"] * 1.0
print("third:", third_alpha, round(cross_val_score(Ridge(alpha=third_alpha), X, y, cv=3).mean(), 6))
#%%
%%step remaining
print("left in the queue:", [e["name"] for e in experiments])
print("completed:", done)
''')


nb("helpers_module", r'''
#%% md
# Wine features from our `helpers.py`
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score

from helpers import SEED, add_ratios, summarize
#%%
%%step load
df = add_ratios(load_wine(as_frame=True).frame)
print(df.shape)
print(df[["alcohol_per_ash", "phenol_ratio"]].describe().round(6).to_string())
#%%
%%step model
X = df.drop(columns="target")
scores = cross_val_score(RandomForestClassifier(n_estimators=30, random_state=SEED), X,
                         df["target"], cv=3)
print(summarize(scores))
''', {"helpers.py": '''
"""Feature helpers shared by our wine notebooks."""

import numpy as np

SEED = 3


def add_ratios(df):
    """Two ratio features a chemist suggested."""
    out = df.copy()
    out["alcohol_per_ash"] = out["alcohol"] / out["ash"]
    out["phenol_ratio"] = out["flavanoids"] / out["total_phenols"]
    return out


def summarize(scores):
    return f"mean={np.mean(scores):.6f} std={np.std(scores):.6f} n={len(scores)}"
'''})


nb("local_package", r'''
#%% md
# Robust scaling from our small in-house package `featurekit`
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import cross_val_score

import featurekit
from featurekit.scaling import robust_z
#%%
%%step load
df = load_diabetes(as_frame=True, scaled=False).frame
print("featurekit", featurekit.__version__, df.shape)
#%%
%%step scale
scaled = df.drop(columns="target").apply(robust_z)
print(scaled.median().abs().max() < 1e-9, round(float(scaled["bmi"].max()), 6))
#%%
%%step fit
scores = cross_val_score(LinearRegression(), featurekit.with_interactions(scaled, ["bmi", "bp"]),
                         df["target"], cv=4)
print("r2:", np.round(scores, 6).tolist())
''', {"featurekit/__init__.py": '''
"""featurekit: the team's feature utilities."""

from .interactions import with_interactions

__version__ = "0.3.0"
__all__ = ["with_interactions"]
''', "featurekit/scaling.py": '''
"""Scalers that do not mind outliers."""


def robust_z(col):
    """(x - median) / IQR."""
    q1, q3 = col.quantile([0.25, 0.75])
    return (col - col.median()) / (q3 - q1)
''', "featurekit/interactions.py": '''
"""Pairwise interaction features."""


def with_interactions(df, cols):
    out = df.copy()
    for i, a in enumerate(cols):
        for b in cols[i + 1:]:
            out[f"{a}*{b}"] = out[a] * out[b]
    return out
'''})


nb("ipython_syntax", r'''
#%% md
# Quick iris checks, written the way one types in a notebook
#%%
%load_ext mlpipe_jupyter
#%%
%matplotlib inline
import numpy as np
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
#%%
%%step load
df = load_iris(as_frame=True).frame
n = len(df)
msg = ("%d rows and %d columns"
       % df.shape)
print(msg)
%time means = df.groupby("target").mean()
print(means.round(6).to_string())
#%%
%%step check
!echo "checking the data"
answer = !echo 42
ok = (n
      != 0)
width = (df.shape[1]
         % 4)
print("ok:", ok, "width mod 4:", width, "answer:", answer)
#%%
%%capture captured
print("noisy output we do not want in the notebook")
fitted = LogisticRegression(max_iter=300).fit(df.drop(columns="target"), df["target"])
#%%
print("captured chars:", len(captured.stdout), "classes:", fitted.classes_.tolist())
''')


nb("skip_after_outputs", r'''
#%% md
# Wine summary export, with a cell that stays out of the pipeline
#%%
%load_ext mlpipe_jupyter
#%%
import json
import os

import pandas as pd
from sklearn.datasets import load_wine
#%%
%%step prepare
df = load_wine(as_frame=True).frame
by_class = df.groupby("target")[["alcohol", "color_intensity"]].mean()
print(by_class.round(6).to_string())
#%% tags=mlpipe:skip
# exploration only: eyeball a few rows, not part of the pipeline
print(df.sample(3, random_state=1)[["alcohol", "hue"]].round(3).to_string())
#%%
%%step export --outputs summary
summary = {"classes": int(df["target"].nunique()), "rows": int(len(df)),
           "alcohol": by_class["alcohol"].round(6).tolist()}
with open("summary.json", "w") as fh:
    json.dump(summary, fh)
print("exported", sorted(summary))
#%%
%%step archive --after export
with open("summary.json") as fh:
    restored = json.load(fh)
print("archived:", restored["rows"], restored["alcohol"], os.path.getsize("summary.json") > 0)
''')


nb("gpu_fallback_mlp", r'''
#%% md
# An MLP that would like a GPU

`train` asks for one (`--gpu 1`) and falls back to scikit-learn on the CPU.
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler


def pick_device():
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"
#%%
%%step data
X, y = make_classification(n_samples=600, n_features=12, n_informative=6, random_state=0)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0)
scaler = StandardScaler().fit(Xtr)
print(Xtr.shape, round(float(scaler.mean_[0]), 6))
#%%
%%step train --gpu 1
device = pick_device()
model = MLPClassifier(hidden_layer_sizes=(16,), max_iter=150, random_state=0)
model.fit(scaler.transform(Xtr), ytr)
print("trained on", device, "loss:", round(model.loss_, 6))
#%%
%%step evaluate
print("accuracy:", round(model.score(scaler.transform(Xte), yte), 6))
''')


nb("kfold_scores_dict", r'''
#%% md
# Manual 5-fold CV, one model per step, scores collected in one dict
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier


def fold_scores(make_model, X, y, folds):
    out = []
    for train, test in folds:
        out.append(make_model().fit(X[train], y[train]).score(X[test], y[test]))
    return out
#%%
%%step data
X, y = load_breast_cancer(return_X_y=True)
folds = list(KFold(n_splits=5, shuffle=True, random_state=2).split(X))
scores = {}
print(len(folds), "folds")
#%%
%%step logreg
scores["logreg"] = fold_scores(
    lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), X, y, folds
)
print(np.round(scores["logreg"], 6).tolist())
#%%
%%step tree
scores["tree"] = fold_scores(lambda: DecisionTreeClassifier(max_depth=4, random_state=0), X, y,
                             folds)
print(np.round(scores["tree"], 6).tolist())
#%%
%%step summary
for name, s in sorted(scores.items()):
    print(name, round(float(np.mean(s)), 6), round(float(np.std(s)), 6))
''')


nb("timeseries_ar1", r'''
#%% md
# An AR(1) process: simulate, smooth, estimate, forecast
#%%
%load_ext mlpipe_jupyter
#%%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

np.random.seed(123)
#%%
%%step simulate
phi = 0.8
shocks = np.random.normal(0, 1, 400)
values = np.zeros(400)
for t in range(1, 400):
    values[t] = phi * values[t - 1] + shocks[t]
ts = pd.Series(values, index=pd.date_range("2024-01-01", periods=400, freq="D"))
print("last value:", round(ts.iloc[-1], 6))
#%%
%%step smooth
weekly = ts.rolling(7).mean()
monthly = ts.resample("MS").mean()
print(monthly.round(6).head(6).to_string())
fig, ax = plt.subplots(figsize=(6, 3))
ts.plot(ax=ax, alpha=0.4, label="daily")
weekly.plot(ax=ax, label="7-day mean")
ax.legend()
display(fig)
plt.close(fig)
#%%
%%step estimate
phi_hat = np.polyfit(ts.values[:-1], ts.values[1:], 1)[0]
print("phi_hat:", round(phi_hat, 6))
#%%
%%step forecast
paths = np.zeros((200, 30))
last = np.full(200, ts.values[-1])
for h in range(30):
    last = phi_hat * last + np.random.normal(0, 1, 200)
    paths[:, h] = last
print("mean at h=30:", round(paths[:, -1].mean(), 6), "sd:", round(paths[:, -1].std(), 6))
''')


nb("ab_test_permutation", r'''
#%% md
# A/B test: permutation p-value and bootstrap lift from one generator
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
#%%
%%step experiment
rng = np.random.default_rng(2024)
control = rng.binomial(1, 0.10, 2000)
treatment = rng.binomial(1, 0.12, 2000)
print("rates:", round(control.mean(), 6), round(treatment.mean(), 6))
#%%
%%step permutation
observed = treatment.mean() - control.mean()
pooled = np.concatenate([control, treatment])
diffs = []
for _ in range(300):
    perm = rng.permutation(pooled)
    diffs.append(perm[:2000].mean() - perm[2000:].mean())
p_value = float(np.mean(np.abs(diffs) >= abs(observed)))
print("observed lift:", round(observed, 6), "p:", round(p_value, 6))
#%%
%%step bootstrap_lift
lifts = [rng.choice(treatment, 2000).mean() - rng.choice(control, 2000).mean()
         for _ in range(300)]
print("lift 90% interval:", np.round(np.percentile(lifts, [5, 95]), 6).tolist())
''')


nb("kmeans_global_state", r'''
#%% md
# k-means restarts that draw from NumPy's global random state
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.utils import shuffle

np.random.seed(0)
#%%
%%step blobs
X, labels = make_blobs(n_samples=300, centers=5, cluster_std=2.0, random_state=8)
X, labels = shuffle(X, labels)
print(X.shape, labels[:8].tolist())
#%%
%%step kmeans_a
km_a = KMeans(n_clusters=5, n_init=1, init="random", max_iter=2).fit(X)
print("inertia a:", round(km_a.inertia_, 6))
#%%
%%step kmeans_b
km_b = KMeans(n_clusters=5, n_init=1, init="random", max_iter=2).fit(X)
print("inertia b:", round(km_b.inertia_, 6))
print("agreement with truth:", round(adjusted_rand_score(labels, km_b.labels_), 6))
''')


nb("inplace_cleaning", r'''
#%% md
# Cleaning the raw diabetes table in place
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
#%%
%%step raw
df = load_diabetes(as_frame=True, scaled=False).frame
df.loc[df.index[::25], "bmi"] = np.nan
df["dup_age"] = df["age"]
print("missing:", int(df.isna().sum().sum()), "columns:", df.shape[1])
#%%
%%step clean
df.drop(columns=["dup_age"], inplace=True)
df.fillna({"bmi": df["bmi"].median()}, inplace=True)
df.rename(columns={"s1": "tc", "s2": "ldl"}, inplace=True)
df.sort_values("age", inplace=True)
df.reset_index(drop=True, inplace=True)
print(df.columns.tolist())
#%%
df.head(3)
#%%
%%step stats
print(df.describe().loc[["mean", "std"]].round(4).to_string())
#%%
%%step model
lr = LinearRegression().fit(df.drop(columns="target"), df["target"])
print("r2:", round(lr.score(df.drop(columns="target"), df["target"]), 6))
print("coef bmi:", round(lr.coef_[list(df.columns).index("bmi")], 6))
''')


nb("forest_unseeded_estimators", r'''
#%% md
# Forests without `random_state`: seeded once, globally
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.utils import shuffle

np.random.seed(42)
#%%
%%step data
X, y = load_digits(return_X_y=True)
X, y = shuffle(X, y)
print(y[:12].tolist())
#%%
%%step forest
forest = RandomForestClassifier(n_estimators=15)
forest.fit(X[:1200], y[:1200])
print("forest holdout accuracy:", round(forest.score(X[1200:], y[1200:]), 6))
#%%
%%step extra
extra = ExtraTreesClassifier(n_estimators=15).fit(X[:1200], y[:1200])
print("extra trees holdout accuracy:", round(extra.score(X[1200:], y[1200:]), 6))
''')


nb("inventory_seed_step", r'''
#%% md
# Inventory simulation: seed in its own step, then simulate
#%%
%load_ext mlpipe_jupyter
#%%
import random

import numpy as np
#%%
%%step seed_everything
np.random.seed(10)
random.seed(10)
print("seeded")
#%%
%%step demand
demand = np.random.poisson(lam=30, size=14)
print("daily demand:", demand.tolist())
#%%
%%step lead_times
lead = [random.randint(1, 5) for _ in range(6)]
print("lead times:", lead)
#%%
%%step safety_stock
sigma = demand.std()
stock = 1.65 * sigma * np.sqrt(np.mean(lead))
print("safety stock:", round(float(stock), 6))
''')


nb("polynomial_ridge_params", r'''
#%% md
# Polynomial ridge regression with residual plots
#%%
%load_ext mlpipe_jupyter
#%%
%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
#%% tags=parameters
alpha = 0.5
degree = 2
#%%
%%step data
X, y = make_regression(n_samples=200, n_features=2, noise=5.0, random_state=1)
y = y + 0.02 * X[:, 0] ** 2 * 100
Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=1)
print(Xtr.shape)
#%%
%%step fit
model = make_pipeline(PolynomialFeatures(degree), StandardScaler(), Ridge(alpha=alpha))
model.fit(Xtr, ytr)
print("train r2:", round(model.score(Xtr, ytr), 6), "test r2:", round(model.score(Xte, yte), 6))
#%%
%%step residuals
resid = yte - model.predict(Xte)
fig, axes = plt.subplots(1, 2, figsize=(8, 3))
axes[0].scatter(model.predict(Xte), resid, s=8)
axes[0].axhline(0, color="k")
axes[1].hist(resid, bins=15)
plt.show()
print("residual sd:", round(float(resid.std()), 6))
''')


nb("wine_stacking", r'''
#%% md
# Wine: stacking three simple models
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
from sklearn.datasets import load_wine
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import classification_report
from sklearn.model_selection import cross_val_predict, train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
#%%
%%step split
X, y = load_wine(return_X_y=True)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=4, stratify=y)
#%%
%%step base_models
base = [
    ("nb", GaussianNB()),
    ("knn", make_pipeline(StandardScaler(), KNeighborsClassifier(5))),
    ("lr", make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))),
]
for name, est in base:
    oof = cross_val_predict(est, Xtr, ytr, cv=3)
    print(name, round(float((oof == ytr).mean()), 6))
#%%
%%step stack
stack = StackingClassifier(estimators=base, final_estimator=LogisticRegression(max_iter=1000),
                           cv=3)
stack.fit(Xtr, ytr)
print(classification_report(yte, stack.predict(Xte), digits=4))
''')


nb("digits_svc_grid", r'''
#%% md
# Digits: a small SVC grid and a confusion matrix
#%%
%load_ext mlpipe_jupyter
#%%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.svm import SVC
#%%
%%step load
X, y = load_digits(return_X_y=True)
X = X / 16.0
Xtr, Xte, ytr, yte = train_test_split(X[:900], y[:900], test_size=0.3, random_state=0)
print(Xtr.shape, Xte.shape)
#%%
%%step grid
grid = GridSearchCV(SVC(), {"C": [1, 10], "gamma": [0.01, 0.05]}, cv=3)
grid.fit(Xtr, ytr)
results = pd.DataFrame(grid.cv_results_)[["param_C", "param_gamma", "mean_test_score"]]
print(results.round(6).to_string(index=False))
print("best:", grid.best_params_)
#%%
%%step confusion
disp = ConfusionMatrixDisplay.from_estimator(grid.best_estimator_, Xte, yte)
display(disp.figure_)
plt.close(disp.figure_)
print("errors:", int((grid.predict(Xte) != yte).sum()))
''')


nb("importance_merge", r'''
#%% md
# Which features matter? Two models' importances side by side
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.inspection import permutation_importance
#%%
%%step data
bunch = load_breast_cancer(as_frame=True)
X, y = bunch.data.iloc[:, :10], bunch.target
print(X.shape)
#%%
%%step rf_importance
rf = RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y)
rf_imp = pd.DataFrame({"feature": X.columns, "rf": rf.feature_importances_})
#%%
%%step gb_importance
gb = GradientBoostingClassifier(n_estimators=30, random_state=0).fit(X, y)
perm = permutation_importance(gb, X, y, n_repeats=3, random_state=0)
gb_imp = pd.DataFrame({"feature": X.columns, "gb_perm": perm.importances_mean})
#%%
%%step merged
both = rf_imp.merge(gb_imp, on="feature")
both["rank_rf"] = both["rf"].rank(ascending=False)
both["rank_gb"] = both["gb_perm"].rank(ascending=False)
long = both.melt(id_vars="feature", value_vars=["rank_rf", "rank_gb"], var_name="model",
                 value_name="rank")
wide = long.pivot(index="feature", columns="model", values="rank")
print(wide.sort_values("rank_rf").round(6).to_string())
''')


nb("survival_sim_stdlib_numpy", r'''
#%% md
# A queueing simulation mixing `random` and NumPy, both seeded at the top
#%%
%load_ext mlpipe_jupyter
#%%
import random

import numpy as np
import pandas as pd

random.seed(99)
np.random.seed(99)


def service_time():
    return random.expovariate(1.5)
#%%
%%step arrivals
gaps = np.random.exponential(1.0, 200)
arrivals = np.cumsum(gaps)
print("last arrival:", round(float(arrivals[-1]), 6))
#%%
%%step serve
finish = []
free_at = 0.0
for t in arrivals:
    start = max(t, free_at)
    free_at = start + service_time()
    finish.append(free_at)
waits = np.array(finish) - arrivals
print("mean time in system:", round(float(waits.mean()), 6))
#%%
%%step table
log = pd.DataFrame({"arrival": arrivals, "finish": finish, "wait": waits})
log["hour"] = (log["arrival"] // 20).astype(int)
print(log.groupby("hour")["wait"].agg(["mean", "max"]).round(6).head().to_string())
#%%
%%step extra_noise
print("one more draw each:", round(random.random(), 6), round(float(np.random.rand()), 6))
''')


nb("artifact_dir_models", r'''
#%% md
# Two models saved under an artifacts folder, compared from disk

The file names are built at run time, so only running the steps shows which files they use.
#%%
%load_ext mlpipe_jupyter
#%%
import glob
import os
import pickle

import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier
#%%
%%params
out_dir = "artifacts"
#%%
%%step split
X, y = load_iris(return_X_y=True)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, random_state=7, stratify=y)
os.makedirs(out_dir, exist_ok=True)
print(Xtr.shape)
#%%
%%step fit_models
for kind, est in [("logreg", LogisticRegression(max_iter=500)),
                  ("tree", DecisionTreeClassifier(max_depth=2, random_state=0))]:
    with open(os.path.join(out_dir, f"{kind}.pkl"), "wb") as fh:
        pickle.dump(est.fit(Xtr, ytr), fh)
print("saved", sorted(os.listdir(out_dir)))
#%%
%%step leaderboard
board = {}
for path in sorted(glob.glob(os.path.join(out_dir, "*.pkl"))):
    with open(path, "rb") as fh:
        board[os.path.basename(path)[:-4]] = round(pickle.load(fh).score(Xte, yte), 6)
print(board)
''')


nb("manual_shuffle_split", r'''
#%% md
# A hand-made shuffled split, the way old tutorials do it
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

np.random.seed(5)
#%%
%%step data
X, y = load_breast_cancer(return_X_y=True)
order = np.arange(len(y))
print(len(order), "rows")
#%%
%%step shuffle
np.random.shuffle(order)
print("first rows after shuffling:", order[:6].tolist())
#%%
%%step split
cut = int(0.8 * len(order))
train_idx, test_idx = order[:cut], order[cut:]
scaler = StandardScaler().fit(X[train_idx])
print(len(train_idx), len(test_idx), round(float(scaler.mean_[0]), 6))
#%%
%%step knn
knn = KNeighborsClassifier(7).fit(scaler.transform(X[train_idx]), y[train_idx])
print("accuracy:", round(knn.score(scaler.transform(X[test_idx]), y[test_idx]), 6))
''')


# -- issue 21: real-code classes from statsmodels-style notebooks ------------------------------

nb("sunspots_arma", r'''
#%% md
# Sunspots: autoregressive models (as in statsmodels' ARMA example)

A yearly series with a `DatetimeIndex` whose `freq` is set, two AR fits, their
diagnostics and a dynamic prediction; later steps read the fitted model back.
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tsa.arima.model import ARIMA
#%%
%%step load
dta = sm.datasets.sunspots.load_pandas().data
dta.index = pd.Index(sm.tsa.datetools.dates_from_range("1700", "2008"))
dta.index.freq = dta.index.inferred_freq
del dta["YEAR"]
print(dta.tail(3))
print(dta.index.freqstr)
#%%
%%step ar2
arma_mod20 = ARIMA(dta, order=(2, 0, 0)).fit()
print(arma_mod20.params.round(4))
#%%
%%step ar3
arma_mod30 = ARIMA(dta, order=(3, 0, 0)).fit()
print(arma_mod30.params.round(4))
print(round(arma_mod30.aic, 4), round(arma_mod30.bic, 4))
#%%
%%step diagnostics
resid = arma_mod30.resid
print(round(float(sm.stats.durbin_watson(resid.values)), 4))
print(arma_mod30.summary().tables[0].as_text().splitlines()[4])
#%%
%%step predict
predict_sunspots = arma_mod30.predict(start="1990", end="2012", dynamic=True)
print(predict_sunspots.round(3).tail(4))
#%%
%%step errors
def mean_forecast_err(y, yhat):
    return y.sub(yhat).mean()

print(round(float(mean_forecast_err(dta.SUNACTIVITY, predict_sunspots)), 4))
''')


nb("macro_quarterly_ma", r'''
#%% md
# US macro data: quarterly growth and an MA model

Quarterly series on a `PeriodIndex` (1959Q1 on), a monthly one with
`freq="ME"`, and a moving-average fit whose results later steps read.
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tsa.arima.model import ARIMA
from statsmodels.tsa.arima_process import arma_generate_sample
#%%
%%step quarterly
data = sm.datasets.macrodata.load_pandas().data
ts = pd.Series(data["realgdp"].values, index=pd.period_range("1959Q1", periods=len(data), freq="Q"),
               name="realgdp")
print(ts.head(3))
#%%
%%step growth
growth = (np.log(ts).diff().dropna() * 400).rename("growth")
print(growth.tail(3).round(4))
print(type(growth.index).__name__, growth.index.freqstr)
#%%
%%step monthly
np.random.seed(2014)
y = arma_generate_sample(np.r_[1, -0.75, 0.25], np.r_[1, 0.65, 0.35], 120)
monthly = pd.Series(y, index=pd.date_range("1980-01-31", periods=120, freq="ME"))
print(monthly.tail(3).round(4))
#%%
%%step ma_fit
ma_mod = ARIMA(growth, order=(0, 0, 2))
ma_res = ma_mod.fit()
print(ma_res.params.round(4))
#%%
%%step ma_report
print(ma_res.summary().tables[0].as_text().splitlines()[4])
print(ma_res.forecast(2).round(4))
#%%
%%step arma_monthly
arma_res = ARIMA(monthly, order=(2, 0, 2), trend="n").fit()
print(arma_res.params.round(3))
print(arma_res.forecast(2).round(4))
''')


nb("formula_notebook_function", r'''
#%% md
# A GLM whose formula calls a function defined in the notebook
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
#%%
%%step data
rng = np.random.default_rng(0)
df = pd.DataFrame({"x": rng.normal(size=60), "g": rng.integers(0, 3, size=60)})
df["y"] = 3 * df["x"] + df["g"] + rng.normal(size=60) * 0.1
print(df.describe().round(3).loc[["mean", "std"]])
#%%
%%step fit
def double_it(v):
    return 2 * v

glm = smf.glm("y ~ double_it(x) + C(g)", df).fit()
print(glm.params.round(4))
#%%
%%step predict
print(glm.predict(df.head(3)).round(4))
#%%
%%step refit
ols = smf.ols("y ~ double_it(x)", df).fit()
print(ols.params.round(4))
''')


nb("beanplot_helper", r'''
#%% md
# One plotting helper, called by many steps
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import matplotlib.pyplot as plt
#%%
%%step helper
rng = np.random.default_rng(7)
groups = {name: rng.normal(loc, 1.0, 80) for name, loc in [("a", 0.0), ("b", 1.0), ("c", 2.5)]}

def beanplot(data, ax=None, title=""):
    ax = ax or plt.gca()
    ax.violinplot(list(data.values()), showmeans=True)
    ax.set_xticks(range(1, len(data) + 1), list(data))
    ax.set_title(title)
    return {k: round(float(np.mean(v)), 4) for k, v in data.items()}

print(sorted(groups))
#%%
%%step plot_all
fig, ax = plt.subplots()
print(beanplot(groups, ax, "all"))
plt.close(fig)
#%%
%%step plot_ab
print(beanplot({k: groups[k] for k in "ab"}, title="a and b"))
plt.close("all")
#%%
%%step plot_shift
print(beanplot({k: v + 1 for k, v in groups.items()}, title="shifted"))
plt.close("all")
#%%
%%step plot_scaled
print(beanplot({k: v * 2 for k, v in groups.items()}, title="scaled"))
plt.close("all")
#%%
%%step plot_abs
print(beanplot({k: np.abs(v) for k, v in groups.items()}, title="abs"))
plt.close("all")
#%%
%%step plot_c
print(beanplot({"c": groups["c"]}, title="c"))
plt.close("all")
''')


nb("np_random_steps", r'''
#%% md
# A simulation that draws from the global NumPy generator in many steps
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import pandas as pd

np.random.seed(12345)
#%%
%%step noise
noise = np.random.normal(size=200)
print(noise[:3].round(6))
#%%
%%step walk
walk = np.cumsum(np.random.choice([-1, 1], size=200))
print(walk[-3:])
#%%
%%step sample
sample = pd.Series(np.random.exponential(2.0, size=50)).round(6)
print(sample.head(3).to_list())
#%%
%%step boot
means = [np.random.choice(noise, size=len(noise)).mean() for _ in range(20)]
print(round(float(np.mean(means)), 6))
#%%
%%step perm
perm = np.random.permutation(10)
print(perm.tolist())
#%%
%%step uniform
u = np.random.uniform(size=5)
print(u.round(6))
#%%
%%step combine
print(round(float(noise.sum() + walk[-1] + sample.sum() + u.sum()), 6))
''')


nb("arrays_inplace", r'''
#%% md
# Arrays changed in place by later steps
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
#%%
%%step build
grid = np.arange(16, dtype=float).reshape(4, 4)
weights = np.ones(4)
cols = np.asfortranarray(np.arange(6).reshape(2, 3))
print(grid.flags.writeable, cols.flags.f_contiguous)
#%%
%%step zero_diag
np.fill_diagonal(grid, 0.0)
grid[0, :] *= 10
print(grid)
#%%
%%step scale
weights /= weights.sum()
weights[-1] = 0.5
cols[0, 0] = 99
print(weights, cols.flags.f_contiguous, cols[0].tolist())
#%%
%%step combine
grid[grid > 20] = -1
print(grid @ weights)
''')


nb("mpl_pyplot_later", r'''
#%% md
# `mpl.pyplot` works because an earlier step imported it
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import matplotlib as mpl
#%%
%%step draw
import matplotlib.pyplot as plt
xs = np.linspace(0, 1, 5)
fig = plt.figure()
plt.plot(xs, xs ** 2)
plt.close(fig)
print(xs.round(2))
#%%
%%step later
fig2 = mpl.pyplot.figure(figsize=(3, 2))
print(fig2.get_size_inches().tolist())
mpl.pyplot.close(fig2)
#%%
%%step styles
print(type(mpl.pyplot.gca()).__name__)
mpl.pyplot.close("all")
''')


nb("wide_frame_print", r'''
#%% md
# A wide DataFrame printed as it is
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import pandas as pd
#%%
%%step wide
wide = pd.DataFrame(np.arange(3 * 26).reshape(3, 26) * 1.5, columns=[f"feature_{c}" for c in "abcdefghijklmnopqrstuvwxyz"])
print(wide)
#%%
%%step arr
print(np.linspace(0, 1, 40))
wide
#%%
%%step desc
print(wide.describe().T.head(12))
''')


nb("private_helpers", r'''
#%% md
# Helpers with a leading underscore, defined in the first step
#%%
%load_ext mlpipe_jupyter
#%%
import numpy as np
import pandas as pd
import statsmodels.api as sm
#%%
%%step c1
def _exog_gen(n, seed=0):
    rng = np.random.default_rng(seed)
    return sm.add_constant(rng.normal(size=(n, 2)))

def _endog_gen(exog, beta=(1.0, 2.0, -1.0), seed=1):
    rng = np.random.default_rng(seed)
    return exog @ np.asarray(beta) + rng.normal(scale=0.1, size=len(exog))

_scratch = [1, 2, 3]
n_obs = len(_scratch) * 30
print(n_obs)
#%%
%%step c2
exog = _exog_gen(n_obs)
endog = _endog_gen(exog)
print(exog.shape, endog[:3].round(4))
#%%
%%step c3
res = sm.OLS(endog, exog).fit()
print(res.params.round(4))
#%%
%%step c4
res_big = sm.OLS(_endog_gen(_exog_gen(200, 5), seed=6), _exog_gen(200, 5)).fit()
print(res_big.params.round(4))
''')
