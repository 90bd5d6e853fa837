// Dockerfile apps shaped like the ones people publish, FROM the bases hack/*-images.sh make
// where no registry is reachable (python, golang with a multi-stage build, maven and
// eclipse-temurin), pushed with real git over SSH and served. (node bases: containers.test.ts.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DormantUp, fixtureApp, pushNewApp, startDormant } from './git-support.js';

let d: DormantUp;
before(async () => {
  d = await startDormant();
});
after(async () => {
  await d?.stop();
});


describe('Dockerfile starters', () => {
  it('FROM python:3.13-slim with pip install and gunicorn on $PORT (Cloud Run’s sample shape)', async () => {
    const { pushed } = await pushNewApp(d, 'py-docker', {
      ...(await fixtureApp('flask-hello')),
      'requirements.txt': 'Flask==3.1.3\ngunicorn==27.0.1\n',
      Dockerfile: 'FROM python:3.13-slim\n\nENV PYTHONUNBUFFERED=True\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . ./\n\nCMD exec gunicorn --bind :$PORT --workers 1 --threads 8 --timeout 0 app:app\n',
    });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /Dockerfile, FROM python:3\.13-slim/);
    assert.equal((await d.get('py-docker')).body, '<p>Hello from Flask!</p>');
  });

  it('a multi-stage Go build: FROM golang:1.24 AS build, then the binary alone FROM debian:bookworm-slim', async () => {
    const { pushed } = await pushNewApp(d, 'go-docker', {
      ...(await fixtureApp('go-cmd-server')),
      Dockerfile: 'FROM golang:1.24 AS build\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\nRUN CGO_ENABLED=0 go build -o /server ./cmd/server\n\nFROM debian:bookworm-slim\nCOPY --from=build /server /server\nUSER 65532:65532\nCMD ["/server"]\n',
    });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /Dockerfile, FROM golang:1\.24, debian:bookworm-slim/);
    assert.match((await d.get('go-docker')).body, /^Hello from Go \(go1\.24\.\d+, instance 36 chars\)\n$/);
  });

  it('a multi-stage Spring Boot build: FROM maven:3.9-eclipse-temurin-21 AS build, then FROM eclipse-temurin:21-jre', async () => {
    const { pushed } = await pushNewApp(d, 'spring-docker', {
      ...(await fixtureApp('spring-boot-maven')),
      'src/main/resources/application.properties': `spring.application.name=demo\nserver.port=\${PORT:8080}\n`,
      Dockerfile: 'FROM maven:3.9-eclipse-temurin-21 AS build\nWORKDIR /app\nCOPY pom.xml .\nCOPY src ./src\nRUN mvn -B -q -DskipTests package\n\nFROM eclipse-temurin:21-jre\nCOPY --from=build /app/target/*.jar /app.jar\nENTRYPOINT ["java", "-jar", "/app.jar"]\n',
    });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.equal((await d.get('spring-docker')).body, 'Hello from Spring Boot on Java 21');
  });
});
