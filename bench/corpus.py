"""Write the real-notebook corpus (bench/notebooks/corpus/*.ipynb): 10 notebooks in the
style of scikit-learn's gallery, statsmodels' examples and pandas' plotting guide, each
converted cell by cell into `%%step`s (8-12 steps), with a real setup: `%matplotlib
inline` first, `import x.y as z`, `from x import y`, a matplotlib style or seaborn theme.
Only bundled data sets (no download). `python bench/corpus.py` rewrites them.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent / "notebooks" / "corpus"

SK_SETUP = """%matplotlib inline
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from sklearn import datasets
from sklearn.model_selection import train_test_split, cross_val_score
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline
import sklearn.metrics as metrics
plt.style.use("ggplot")"""

SM_SETUP = """%matplotlib inline
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.graphics.api import qqplot
plt.rc("figure", figsize=(8, 4))"""

PD_SETUP = """%matplotlib inline
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
import seaborn as sns
sns.set_theme(style="whitegrid")"""

CORPUS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "sk_digits_classifiers": (SK_SETUP, [
        ("load", "digits = datasets.load_digits()\nX, y = digits.data, digits.target\nprint(X.shape)"),
        ("split", "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)"),
        ("show", "fig, axes = plt.subplots(1, 6, figsize=(8, 2))\nfor ax, image, label in zip(axes, digits.images, digits.target):\n    ax.imshow(image, cmap=plt.cm.gray_r)\n    ax.set_title(label)\nplt.show()"),
        ("logreg", "from sklearn.linear_model import LogisticRegression\nlogreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X_train, y_train)\nlogreg_acc = logreg.score(X_test, y_test)"),
        ("svc", "from sklearn.svm import SVC\nsvc = SVC(gamma=0.001).fit(X_train, y_train)\nsvc_acc = svc.score(X_test, y_test)"),
        ("knn", "from sklearn.neighbors import KNeighborsClassifier\nknn = KNeighborsClassifier(3).fit(X_train, y_train)\nknn_acc = knn.score(X_test, y_test)"),
        ("compare", "scores = pd.Series({'logreg': logreg_acc, 'svc': svc_acc, 'knn': knn_acc})\nprint(scores)"),
        ("confusion", "predicted = svc.predict(X_test)\ncm = metrics.confusion_matrix(y_test, predicted)\nmetrics.ConfusionMatrixDisplay(cm).plot()\nplt.show()"),
        ("report", "print(metrics.classification_report(y_test, predicted))"),
    ]),
    "sk_diabetes_regression": (SK_SETUP, [
        ("load", "X, y = datasets.load_diabetes(return_X_y=True, as_frame=True)"),
        ("split", "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=1)"),
        ("ridge", "from sklearn.linear_model import RidgeCV\nridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(X_train, y_train)"),
        ("lasso", "from sklearn.linear_model import LassoCV\nlasso = LassoCV(cv=5, random_state=0).fit(X_train, y_train)"),
        ("gbr", "from sklearn.ensemble import GradientBoostingRegressor\ngbr = GradientBoostingRegressor(n_estimators=100, random_state=0).fit(X_train, y_train)"),
        ("r2", "r2 = {name: metrics.r2_score(y_test, m.predict(X_test)) for name, m in [('ridge', ridge), ('lasso', lasso), ('gbr', gbr)]}\nprint(r2)"),
        ("coefs", "coefs = pd.DataFrame({'ridge': ridge.coef_, 'lasso': lasso.coef_}, index=X.columns)\ncoefs.plot.barh(figsize=(6, 5))\nplt.show()"),
        ("importance", "pd.Series(gbr.feature_importances_, index=X.columns).sort_values().plot.barh()\nplt.show()"),
        ("residuals", "res = y_test - gbr.predict(X_test)\nplt.scatter(gbr.predict(X_test), res, s=8)\nplt.axhline(0, color='k')\nplt.show()"),
    ]),
    "sk_iris_pca_kmeans": (SK_SETUP, [
        ("load", "iris = datasets.load_iris(as_frame=True)\nX, y = iris.data, iris.target"),
        ("scale", "Xs = StandardScaler().fit_transform(X)"),
        ("pca", "from sklearn.decomposition import PCA\npca = PCA(n_components=2).fit(Xs)\nZ = pca.transform(Xs)\nprint(pca.explained_variance_ratio_)"),
        ("plot_pca", "plt.scatter(Z[:, 0], Z[:, 1], c=y, cmap='viridis', s=12)\nplt.show()"),
        ("kmeans", "from sklearn.cluster import KMeans\nkm = KMeans(n_clusters=3, n_init=10, random_state=0).fit(Xs)"),
        ("agree", "print(metrics.adjusted_rand_score(y, km.labels_))"),
        ("elbow", "inertia = [KMeans(n_clusters=k, n_init=5, random_state=0).fit(Xs).inertia_ for k in range(1, 8)]\nplt.plot(range(1, 8), inertia, 'o-')\nplt.show()"),
        ("tsne", "from sklearn.manifold import TSNE\nT = TSNE(n_components=2, init='pca', perplexity=20, random_state=0).fit_transform(Xs)"),
        ("plot_tsne", "plt.scatter(T[:, 0], T[:, 1], c=km.labels_, s=12)\nplt.show()"),
    ]),
    "sk_breast_cancer_pipeline": (SK_SETUP, [
        ("load", "X, y = datasets.load_breast_cancer(return_X_y=True)"),
        ("split", "X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)"),
        ("logreg", "from sklearn.linear_model import LogisticRegression\nclf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))\ncv = cross_val_score(clf, X_train, y_train, cv=5)\nprint(cv.mean())"),
        ("grid", "from sklearn.model_selection import GridSearchCV\ngrid = GridSearchCV(clf, {'logisticregression__C': [0.1, 1, 10]}, cv=3).fit(X_train, y_train)\nprint(grid.best_params_)"),
        ("forest", "from sklearn.ensemble import RandomForestClassifier\nforest = RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=0).fit(X_train, y_train)"),
        ("roc", "for name, m in [('grid', grid), ('forest', forest)]:\n    metrics.RocCurveDisplay.from_estimator(m, X_test, y_test, name=name, ax=plt.gca())\nplt.show()"),
        ("scores", "print({'grid': grid.score(X_test, y_test), 'forest': forest.score(X_test, y_test)})"),
        ("importance", "top = np.argsort(forest.feature_importances_)[-10:]\nplt.barh(range(10), forest.feature_importances_[top])\nplt.show()"),
    ]),
    "sk_wine_forest": (SK_SETUP, [
        ("load", "wine = datasets.load_wine(as_frame=True)\ndf = wine.frame"),
        ("describe", "print(df.describe().T.head())"),
        ("split", "X_train, X_test, y_train, y_test = train_test_split(wine.data, wine.target, random_state=0)"),
        ("forest", "from sklearn.ensemble import RandomForestClassifier\nforest = RandomForestClassifier(n_estimators=200, n_jobs=-1, random_state=0).fit(X_train, y_train)"),
        ("extra", "from sklearn.ensemble import ExtraTreesClassifier\nextra = ExtraTreesClassifier(n_estimators=200, n_jobs=-1, random_state=0).fit(X_train, y_train)"),
        ("scores", "print(forest.score(X_test, y_test), extra.score(X_test, y_test))"),
        ("importances", "imp = pd.DataFrame({'forest': forest.feature_importances_, 'extra': extra.feature_importances_}, index=wine.data.columns)\nimp.plot.bar(figsize=(8, 4))\nplt.show()"),
        ("hist", "df.hist(figsize=(10, 8), bins=20)\nplt.show()"),
    ]),
    "sm_ols_longley": (SM_SETUP, [
        ("load", "data = sm.datasets.longley.load_pandas()\ny, X = data.endog, sm.add_constant(data.exog)"),
        ("ols", "ols = sm.OLS(y, X).fit()\nprint(ols.summary())"),
        ("anova", "df = data.data\nformula = smf.ols('TOTEMP ~ GNPDEFL + GNP + UNEMP + ARMED + POP + YEAR', data=df).fit()\nprint(sm.stats.anova_lm(formula, typ=2))"),
        ("influence", "infl = ols.get_influence()\nprint(infl.summary_frame().head())"),
        ("qq", "qqplot(ols.resid, line='q')\nplt.show()"),
        ("partreg", "fig = sm.graphics.plot_partregress_grid(formula)\nplt.show()"),
        ("robust", "rlm = sm.RLM(y, X, M=sm.robust.norms.HuberT()).fit()\nprint(rlm.params)"),
        ("compare", "print(pd.DataFrame({'ols': ols.params, 'rlm': rlm.params}))"),
    ]),
    "sm_arima_sunspots": (SM_SETUP, [
        ("load", "dta = sm.datasets.sunspots.load_pandas().data\ndta.index = pd.period_range('1700', '2008', freq='Y')\nsun = dta['SUNACTIVITY']"),
        ("plot", "sun.plot(figsize=(10, 4))\nplt.show()"),
        ("acf", "fig, axes = plt.subplots(1, 2, figsize=(10, 3))\nsm.graphics.tsa.plot_acf(sun.values, lags=30, ax=axes[0])\nsm.graphics.tsa.plot_pacf(sun.values, lags=30, ax=axes[1], method='ywm')\nplt.show()"),
        ("ar2", "from statsmodels.tsa.arima.model import ARIMA\nar2 = ARIMA(sun, order=(2, 0, 0)).fit()\nprint(ar2.params)"),
        ("ar3", "from statsmodels.tsa.arima.model import ARIMA\nar3 = ARIMA(sun, order=(3, 0, 0)).fit()\nprint(ar3.aic, ar2.aic)"),
        ("dw", "print(sm.stats.durbin_watson(ar3.resid.values))"),
        ("resid", "qqplot(ar3.resid, line='q', fit=True)\nplt.show()"),
        ("forecast", "pred = ar3.predict('1990', '2012', dynamic=True)\nax = sun.loc['1950':].plot()\npred.plot(ax=ax)\nplt.show()"),
        ("error", "print(np.abs(sun.loc['1990':] - pred.loc[:'2008']).mean())"),
    ]),
    "sm_discrete_spector": (SM_SETUP, [
        ("load", "spector = sm.datasets.spector.load_pandas()\nX = sm.add_constant(spector.exog, prepend=False)\ny = spector.endog"),
        ("lpm", "lpm = sm.OLS(y, X).fit()\nprint(lpm.params)"),
        ("logit", "logit = sm.Logit(y, X).fit(disp=0)\nprint(logit.summary())"),
        ("margeff", "print(logit.get_margeff().summary())"),
        ("probit", "probit = sm.Probit(y, X).fit(disp=0)\nprint(probit.params)"),
        ("compare", "print(pd.DataFrame({'lpm': lpm.params, 'logit': logit.params, 'probit': probit.params}))"),
        ("plot", "support = np.linspace(-6, 6, 200)\nplt.plot(support, sm.families.links.Logit().inverse(support), label='logit')\nplt.plot(support, probit.model.cdf(support), label='probit')\nplt.legend()\nplt.show()"),
        ("mnlogit", "anes = sm.datasets.anes96.load_pandas()\nmn = sm.MNLogit(anes.endog, sm.add_constant(anes.exog)).fit(disp=0)\nprint(mn.params.shape)"),
        ("poisson", "rand = sm.datasets.randhie.load_pandas()\npois = sm.Poisson(rand.endog, sm.add_constant(rand.exog)).fit(disp=0)\nprint(pois.params)"),
    ]),
    "sm_macro_var": (SM_SETUP, [
        ("load", "mdata = sm.datasets.macrodata.load_pandas().data\nmdata.index = pd.period_range('1959Q1', '2009Q3', freq='Q')\ndata = np.log(mdata[['realgdp', 'realcons', 'realinv']]).diff().dropna()"),
        ("plot", "data.plot(subplots=True, figsize=(8, 6))\nplt.show()"),
        ("select", "from statsmodels.tsa.api import VAR\nmodel = VAR(data)\nprint(model.select_order(8).summary())"),
        ("fit", "from statsmodels.tsa.api import VAR\nres = VAR(data).fit(2)\nprint(res.summary())"),
        ("irf", "irf = res.irf(10)\nirf.plot(orth=False)\nplt.show()"),
        ("fevd", "print(res.fevd(5).summary())"),
        ("causality", "print(res.test_causality('realgdp', ['realinv'], kind='f').summary())"),
        ("forecast", "lag = res.k_ar\nfc = res.forecast(data.values[-lag:], 8)\nprint(fc)"),
        ("hp", "cycle, trend = sm.tsa.filters.hpfilter(mdata['realgdp'])\ntrend.plot()\nplt.show()"),
    ]),
    "pd_plotting": (PD_SETUP, [
        ("frame", "rng = np.random.default_rng(0)\nts = pd.DataFrame(rng.standard_normal((1000, 4)), index=pd.date_range('1/1/2000', periods=1000), columns=list('ABCD')).cumsum()"),
        ("lines", "ts.plot(figsize=(8, 4))\nplt.show()"),
        ("rolling", "ts.rolling(30).mean().plot(figsize=(8, 4))\nplt.show()"),
        ("monthly", "monthly = ts.resample('ME').mean()\nmonthly.plot.bar(stacked=True, figsize=(10, 4))\nplt.show()"),
        ("hist", "ts.diff().plot.hist(alpha=0.5, bins=40)\nplt.show()"),
        ("tips", "tips = pd.DataFrame({'total_bill': rng.gamma(4, 5, 300), 'day': rng.choice(['Thu', 'Fri', 'Sat', 'Sun'], 300), 'smoker': rng.choice(['Yes', 'No'], 300)})\ntips['tip'] = tips.total_bill * rng.uniform(0.1, 0.25, 300)"),
        ("box", "sns.boxplot(data=tips, x='day', y='total_bill', hue='smoker')\nplt.show()"),
        ("reg", "sns.regplot(data=tips, x='total_bill', y='tip')\nplt.show()"),
        ("pivot", "print(tips.pivot_table(index='day', columns='smoker', values='tip', aggfunc='mean'))"),
        ("scatter_matrix", "pd.plotting.scatter_matrix(ts.diff().dropna(), figsize=(6, 6), s=4)\nplt.show()"),
    ]),
}


def notebook(setup: str, steps: list[tuple[str, str]]) -> dict:
    cells = ["%load_ext mlpipe_jupyter", setup, *(f"%%step {name}\n{code}" for name, code in steps)]
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                   "outputs": [], "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    for name, (setup, steps) in CORPUS.items():
        (HERE / f"{name}.ipynb").write_text(json.dumps(notebook(setup, steps), indent=1) + "\n")
    print(f"{len(CORPUS)} notebooks in {HERE}")


if __name__ == "__main__":
    main()
