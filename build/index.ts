// build: app detection, release folders for processes, OCI images for containers.
// Not built yet: issues #6 and #8. README's status table says so.
export {};
