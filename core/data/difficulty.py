"""How hard a generated data set is: the oracle against single-view baselines.

Trains on the oldest 70% of claims (by report date) and scores the rest, as production
would: a logistic regression on the structured fields alone, a TF-IDF logistic
regression on the narrative alone, and a TF-IDF model for message sentiment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.preprocessing import StandardScaler

from core.data.generator import GeneratedData

TRAIN_SHARE = 0.7


@dataclass(frozen=True)
class Difficulty:
    fraud_rate: float
    oracle_auc: float
    structured_auc: float
    narrative_auc: float
    sentiment_macro_f1: float


def structured_features(claims: pd.DataFrame) -> np.ndarray:
    """Plain, standardised fields as an analyst would first try them (no bucketing)."""
    incident = pd.to_datetime(claims["incident_date"])
    numeric = pd.DataFrame(
        {
            "amount_ratio": claims["claimed_amount"] / claims["insured_value"],
            "policy_age": (incident - pd.to_datetime(claims["policy_start_date"])).dt.days,
            "report_delay": (pd.to_datetime(claims["report_date"]) - incident).dt.days,
            "hour": claims["incident_hour"],
            "prior_claims": claims["prior_claims"],
            "witnesses": claims["witnesses"],
        }
    )
    categorical = pd.get_dummies(claims[["police_report", "line_of_business", "channel", "region"]], dtype=float)
    return StandardScaler().fit_transform(pd.concat([numeric, categorical], axis=1))


def time_split(n: int) -> tuple[np.ndarray, np.ndarray]:
    train = np.arange(n) < int(n * TRAIN_SHARE)  # rows are in report-date order
    return train, ~train


def measure(data: GeneratedData) -> Difficulty:
    claims, messages = data.claims, data.messages
    labels = claims["label_fraud"].to_numpy()
    train, test = time_split(len(claims))
    features = structured_features(claims)
    structured = LogisticRegression(max_iter=2000).fit(features[train], labels[train])
    text = TfidfVectorizer(ngram_range=(1, 2), min_df=2).fit_transform(claims["narrative"])
    narrative = LogisticRegression(max_iter=2000).fit(text[train], labels[train])
    m_train, m_test = time_split(len(messages))
    sentiment = messages["label_sentiment"].to_numpy()
    m_text = TfidfVectorizer(ngram_range=(1, 2), min_df=2).fit_transform(messages["text"])
    tfidf = LogisticRegression(max_iter=2000, C=10).fit(m_text[m_train], sentiment[m_train])
    return Difficulty(
        fraud_rate=float(labels.mean()),
        oracle_auc=float(roc_auc_score(labels[test], claims["oracle_fraud_probability"].to_numpy()[test])),
        structured_auc=float(roc_auc_score(labels[test], structured.predict_proba(features[test])[:, 1])),
        narrative_auc=float(roc_auc_score(labels[test], narrative.predict_proba(text[test])[:, 1])),
        sentiment_macro_f1=float(f1_score(sentiment[m_test], tfidf.predict(m_text[m_test]), average="macro")),
    )
