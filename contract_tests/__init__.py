"""The provider contract suite: checks any gateway against the API documentation."""
