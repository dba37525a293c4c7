"""srcrel's annotator gateway: the one address annotators are given, in front of Label Studio
(rules, bodies, blind responses, the one-answer guard, the screen, the web server)."""
