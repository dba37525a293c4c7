"""The model in the loop: active-learning rounds (`srcrel loop`), joining labeling and training."""
