"""The patient's status page: reached by an unguessable link, in the patient's language."""
